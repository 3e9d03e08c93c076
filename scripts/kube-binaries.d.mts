/** Types of scripts/kube-binaries.mjs (a plain Node script, so it also runs on the system Node). */
export function ensureKubeBinaries(): Promise<{ binDir: string; versions: { kubernetes: string; etcd: string; helm: string } }>;

/** Types of scripts/toxiproxy.mjs (a plain Node script, so it also runs on the system Node). */
export function ensureToxiproxy(): Promise<{ server: string; version: string }>;

/**
 * The party node's configuration (STYLE "Services"): one validated object built at start-up
 * from a YAML file plus `VILNA_*` environment overrides. Nothing else reads process.env.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const listen = z.strictObject({ host: z.string().min(1).default('127.0.0.1'), port: z.number().int().min(0).max(65535) });
const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `must be ${bytes} bytes of lowercase hex`);

export const NodeConfigSchema = z.strictObject({
  party: z.strictObject({
    /** This party's name as plans list it (informational; plans identify parties by identity key). */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/),
    /** This party's number in its deployment (audit log, logs, metrics). */
    index: z.number().int().min(1).max(1024),
    /** Sealed blobs, key state, audit log. */
    stateDir: z.string().min(1),
  }),
  hsm: z.strictObject({
    module: z.string().min(1),
    tokenLabel: z.string().min(1).max(32),
    pinFile: z.string().min(1),
  }),
  /** Approver public keys and quorum, pinned in the HSM token at first start (DESIGN §4 "Trust anchors"). */
  approvers: z.strictObject({ keys: z.array(hex(32)).min(1).max(32), quorum: z.number().int().min(1) }),
  tls: z.strictObject({ caFile: z.string().min(1), certFile: z.string().min(1), keyFile: z.string().min(1) }),
  listen: z.strictObject({ peer: listen, api: listen, metrics: listen.optional() }),
  api: z
    .strictObject({
      /** Bearer tokens accepted by the signing API, stored as SHA-256 hashes (hex). Deny by default. */
      clients: z.array(z.strictObject({ name: z.string().min(1).max(64), tokenSha256: hex(32) })).default([]),
      /** Subject CNs of client certificates (issued by the node's CA) accepted by the signing API. */
      clientCertificateNames: z.array(z.string().min(1).max(64)).default([]),
      maxBodyBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024),
    })
    .default({ clients: [], clientCertificateNames: [], maxBodyBytes: 1024 * 1024 }),
  /**
   * Presignatures kept waiting: `size` for path `m` of each key, `pathSize` for each hot derived
   * path (named exactly by the key's policy, or signed for repeatedly of late: node/hot-paths.ts).
   */
  presignPool: z
    .strictObject({ size: z.number().int().min(0).max(1000).default(2), pathSize: z.number().int().min(0).max(100).default(2) })
    .default({ size: 2, pathSize: 2 }),
  roundTimeoutMs: z.number().int().min(1000).max(600_000).default(120_000),
  /**
   * Worker threads for presigning's per-peer proofs (cggmp/parallel): one per core when absent,
   * 0 for none (every proof on the event loop).
   */
  proofWorkers: z.number().int().min(0).max(16).optional(),
  /** OTLP/HTTP endpoint for traces; tracing is off when absent. */
  otlpEndpoint: z.url().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  /**
   * Development switches, refused unless `enabled`: pre-generated safe primes from a file (the
   * same primes in every run: never for real keys) and the variable-time BigInt arithmetic.
   */
  development: z
    .strictObject({ enabled: z.boolean(), primesFile: z.string().optional(), allowVariableTimeArithmetic: z.boolean().default(false) })
    .optional(),
});

export type NodeConfig = z.infer<typeof NodeConfigSchema>;

export class ConfigError extends Error {
  readonly code = 'E_CONFIG';
  override readonly name = 'ConfigError';
}

/** Environment overrides: a small, explicit list. */
const ENV_OVERRIDES: readonly { readonly env: string; readonly apply: (c: Record<string, unknown>, v: string) => void }[] = [
  { env: 'VILNA_STATE_DIR', apply: (c, v) => (obj(c, 'party').stateDir = v) },
  { env: 'VILNA_HSM_PIN_FILE', apply: (c, v) => (obj(c, 'hsm').pinFile = v) },
  { env: 'VILNA_HSM_MODULE', apply: (c, v) => (obj(c, 'hsm').module = v) },
  { env: 'VILNA_OTLP_ENDPOINT', apply: (c, v) => (c.otlpEndpoint = v) },
  { env: 'VILNA_LOG_LEVEL', apply: (c, v) => (c.logLevel = v) },
  { env: 'VILNA_PROOF_WORKERS', apply: (c, v) => (c.proofWorkers = /^\d+$/.test(v) ? Number(v) : v) },
];

function obj(c: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = c[key];
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  const fresh: Record<string, unknown> = {};
  c[key] = fresh;
  return fresh;
}

/** Parses and validates a configuration; relative paths resolve against `baseDir`. */
export function parseNodeConfig(raw: unknown, env: Readonly<Record<string, string | undefined>>, baseDir: string): NodeConfig {
  const c = (typeof raw === 'object' && raw !== null ? structuredClone(raw) : {}) as Record<string, unknown>;
  for (const o of ENV_OVERRIDES) {
    const v = env[o.env];
    if (v !== undefined && v !== '') o.apply(c, v);
  }
  const parsed = NodeConfigSchema.safeParse(c);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new ConfigError(`configuration: ${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  const cfg = parsed.data;
  if (cfg.approvers.quorum > cfg.approvers.keys.length) throw new ConfigError('configuration: approvers.quorum exceeds the number of approver keys');
  if (new Set(cfg.approvers.keys).size !== cfg.approvers.keys.length) throw new ConfigError('configuration: approvers.keys has duplicates');
  if (cfg.development && !cfg.development.enabled && (cfg.development.primesFile || cfg.development.allowVariableTimeArithmetic)) {
    throw new ConfigError('configuration: development options need development.enabled: true');
  }
  const abs = (p: string): string => path.resolve(baseDir, p);
  return {
    ...cfg,
    party: { ...cfg.party, stateDir: abs(cfg.party.stateDir) },
    hsm: { ...cfg.hsm, pinFile: abs(cfg.hsm.pinFile) },
    tls: { caFile: abs(cfg.tls.caFile), certFile: abs(cfg.tls.certFile), keyFile: abs(cfg.tls.keyFile) },
    ...(cfg.development ? { development: { ...cfg.development, ...(cfg.development.primesFile ? { primesFile: abs(cfg.development.primesFile) } : {}) } } : {}),
  };
}

export async function loadNodeConfig(file: string, env: Readonly<Record<string, string | undefined>>): Promise<NodeConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new ConfigError(`configuration file ${file} cannot be read`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`configuration file ${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseNodeConfig(raw, env, path.dirname(path.resolve(file)));
}

/**
 * Structured JSON logs of the party node (DESIGN §4 "Observability", STYLE "Services"): pino,
 * every line carrying the party, session loggers adding `protocol` and `sid`.
 *
 * No secrets in logs (DESIGN §4): fields whose names say they may hold secret material are
 * censored at the top level and two levels down, and errors are reduced to their type, stable
 * code, message, a few public fields and stack frames; a `cause` keeps only its type and code,
 * because causes come from libraries (PKCS#11, parsers) whose messages and properties may quote
 * the data they choked on.
 */
import { pino, type DestinationStream, type Level, type Logger } from 'pino';

export const LOG_LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
export const REDACTED = '[redacted]';

/** Field names that may hold secret material wherever they appear. */
const SECRET_FIELDS = [
  'secret',
  'secrets',
  'share',
  'shares',
  'privateKey',
  'secretKey',
  'sealingKey',
  'plaintext',
  'seed',
  'pin',
  'userPin',
  'soPin',
  'password',
  'passphrase',
  'token',
  'bearerToken',
  'accessToken',
  'authorization',
  'cookie',
] as const;

/** Redaction paths: each secret field at the top level and one or two objects down. */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]),
  // Header names are lower-case in Node; these sit deeper than the wildcards reach.
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
];

/** Error properties that are public by construction (codes, party numbers, round numbers). */
const PUBLIC_ERROR_FIELDS = ['code', 'ckr', 'protocol', 'round', 'reason', 'culprits'] as const;
/** How many causes deep the serializer follows before stopping. */
const MAX_CAUSE_DEPTH = 4;

export interface SerializedCause {
  readonly type: string;
  readonly code?: string;
  readonly cause?: SerializedCause;
}

export interface SerializedError {
  readonly type: string;
  readonly message: string;
  readonly code?: string;
  readonly stack?: string;
  readonly cause?: SerializedCause;
  readonly [field: string]: unknown;
}

function typeOf(e: unknown): string {
  if (e instanceof Error) return e.name;
  return e === null ? 'null' : typeof e;
}

function codeOf(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}

function isPublicValue(v: unknown): boolean {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return true;
  return Array.isArray(v) && v.every((x) => typeof x === 'number');
}

function serializeCause(e: unknown, depth: number): SerializedCause {
  const code = codeOf(e);
  const next = e instanceof Error && depth < MAX_CAUSE_DEPTH && e.cause !== undefined ? serializeCause(e.cause, depth + 1) : undefined;
  return { type: typeOf(e), ...(code === undefined ? {} : { code }), ...(next === undefined ? {} : { cause: next }) };
}

/** The log form of an error: type, message, public fields, stack frames; causes by type and code only. */
export function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { type: typeOf(e), message: 'non-Error value thrown' };
  const out: Record<string, unknown> = { type: e.name, message: e.message };
  for (const field of PUBLIC_ERROR_FIELDS) {
    const v = (e as unknown as Record<string, unknown>)[field];
    if (v !== undefined && isPublicValue(v)) out[field] = v;
  }
  // Frames only: the first stack line repeats the message, and nothing else there is data.
  const frames = e.stack?.split('\n').filter((l) => /^\s+at /.test(l));
  if (frames !== undefined && frames.length > 0) out.stack = frames.join('\n');
  if (e.cause !== undefined) out.cause = serializeCause(e.cause, 1);
  return out as SerializedError;
}

export class LoggerConfigError extends Error {
  override readonly name = 'LoggerConfigError';
  readonly code = 'E_LOGGER_CONFIG';
}

export interface LoggerOptions {
  readonly party: number;
  readonly level: Level;
  /** Where JSON lines go; stderr by default, since stdout carries the CLI's `--json` report (DESIGN §8). */
  readonly destination?: DestinationStream;
}

/** The node's root logger: JSON lines with ISO time, level names, `party`, secrets censored. */
export function createLogger(opts: LoggerOptions): Logger {
  if (!Number.isSafeInteger(opts.party) || opts.party < 1) throw new LoggerConfigError('party must be a positive integer');
  if (!LOG_LEVELS.includes(opts.level)) throw new LoggerConfigError(`level must be one of ${LOG_LEVELS.join('|')}`);
  return pino(
    {
      level: opts.level,
      base: { party: opts.party },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      serializers: { err: serializeError, error: serializeError },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A child logger for one protocol session: every line carries `protocol` and `sid`. */
export function sessionLogger(logger: Logger, protocol: string, sidHex: string): Logger {
  return logger.child({ protocol, sid: sidHex });
}

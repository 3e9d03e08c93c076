/**
 * A key's signing policy (DESIGN §4 "Signing API"): which derivation paths may be signed for,
 * how often, when (UTC), and how many approver signatures a signing request needs. Every signer
 * evaluates the policy itself before releasing its partial signature; the evaluators here are
 * pure so the sidecar and tests share one reading of each rule. A policy changes only through a
 * plan with protocol "policy" (api/plan.ts), approved like any other plan.
 *
 * Path grammar (patterns in `allowedPaths`, and the concrete paths they are matched against):
 *
 *   path     = "m" *( "/" element )            ; depth = number of elements, at most 255
 *   element  = index | "*"                     ; "*" only in patterns
 *   index    = "0" | [1-9] [0-9]*              ; canonical decimal, 0 ≤ index < 2^31
 *
 * "*" matches exactly one non-hardened index; a pattern matches only paths of its own depth
 * ("m/0/*" matches "m/0/7", not "m/0" nor "m/0/7/1"). Hardened elements ("0'", "0h") do not
 * exist here: a threshold key can only derive non-hardened children (BIP32 CKDpub).
 */
import { z } from 'zod';
import { canonicalHash, ContractError, describeIssues } from './canonical.ts';

/** Domain tag of the policy hash. */
export const POLICY_TAG = 'vilna-mpc/policy/v1';

/** BIP32 "Serialization format": depth is one byte. */
export const MAX_PATH_DEPTH = 255;
/** BIP32: indices at or above 2^31 are hardened. */
const HARDENED_OFFSET = 0x8000_0000;
/** Longest index in decimal (2^31 − 1 has 10 digits). */
const MAX_INDEX_DIGITS = 10;
const MAX_PATH_CHARS = 1 + MAX_PATH_DEPTH * (1 + MAX_INDEX_DIGITS);
/** Enough patterns for any real account layout; more is a generated list gone wrong. */
export const MAX_ALLOWED_PATHS = 256;
export const MAX_TIME_WINDOWS = 32;
/** Rate limits above this are not limits. */
const MAX_RATE = 1_000_000;

const INDEX_RE = /^(0|[1-9][0-9]{0,9})$/;

/** Splits path text into elements, or undefined when it is not "m" or "m/…" within bounds. */
function elementsOf(path: string): string[] | undefined {
  if (typeof path !== 'string' || path.length > MAX_PATH_CHARS) return undefined;
  if (path === 'm') return [];
  if (!path.startsWith('m/')) return undefined;
  const elements = path.slice(2).split('/');
  return elements.length <= MAX_PATH_DEPTH ? elements : undefined;
}

function indexOf(element: string): number | undefined {
  if (!INDEX_RE.test(element)) return undefined;
  const i = Number(element);
  return i < HARDENED_OFFSET ? i : undefined;
}

/** The child indices of a concrete non-hardened path ([] for "m"), or undefined if malformed. */
export function parseDerivationPath(path: string): number[] | undefined {
  const elements = elementsOf(path);
  if (elements === undefined) return undefined;
  const out: number[] = [];
  for (const e of elements) {
    const i = indexOf(e);
    if (i === undefined) return undefined;
    out.push(i);
  }
  return out;
}

/** True when `pattern` follows the grammar above ("*" allowed). */
export function isPathPattern(pattern: string): boolean {
  const elements = elementsOf(pattern);
  return elements !== undefined && elements.every((e) => e === '*' || indexOf(e) !== undefined);
}

export const DerivationPathSchema = z
  .string()
  .refine((p) => parseDerivationPath(p) !== undefined, 'must be "m" or "m/i/…" with canonical non-hardened indices (depth ≤ 255)');

export const PathPatternSchema = z
  .string()
  .refine(isPathPattern, 'must be "m" or "m/…" whose elements are canonical non-hardened indices or "*"');

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Day = (typeof DAYS)[number];

/** "HH:MM", 00:00 … 23:59, plus "24:00" as the end of a day. */
const CLOCK_RE = /^(?:([01][0-9]|2[0-3]):([0-5][0-9])|24:00)$/;

function minutesOf(clock: string): number {
  if (clock === '24:00') return 24 * 60;
  const m = CLOCK_RE.exec(clock)!;
  return Number(m[1]) * 60 + Number(m[2]);
}

/**
 * One weekly window, UTC: on each listed day, from `from` (inclusive) to `to` (exclusive);
 * `from` < `to`. A window across midnight is written as two windows.
 */
export const TimeWindowSchema = z
  .object({
    days: z
      .array(z.enum(DAYS))
      .min(1)
      .max(DAYS.length)
      .refine((d) => new Set(d).size === d.length, 'days must not repeat'),
    from: z.string().regex(CLOCK_RE, 'must be HH:MM (UTC)'),
    to: z.string().regex(CLOCK_RE, 'must be HH:MM (UTC), or 24:00'),
  })
  .strict()
  .superRefine((w, ctx) => {
    if (CLOCK_RE.test(w.from) && CLOCK_RE.test(w.to) && minutesOf(w.from) >= minutesOf(w.to)) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be later than from (split a window across midnight in two)' });
    }
    if (w.from === '24:00') ctx.addIssue({ code: 'custom', path: ['from'], message: '24:00 is only an end' });
  });

export const PolicySchema = z
  .object({
    version: z.literal(1),
    /** An empty list allows no path: the key is frozen for signing. */
    allowedPaths: z.array(PathPatternSchema).max(MAX_ALLOWED_PATHS),
    rateLimits: z
      .object({
        perMinute: z.number().int().min(1).max(MAX_RATE).exactOptional(),
        perHour: z.number().int().min(1).max(MAX_RATE).exactOptional(),
      })
      .strict()
      .exactOptional(),
    /** Absent: any time. Present: the request time must fall in at least one window. */
    timeWindows: z.array(TimeWindowSchema).min(1).max(MAX_TIME_WINDOWS).exactOptional(),
    /**
     * Whether a caller may have a bare digest signed (the slow path, presigned for that digest):
     * no signer can see what it signs then, so it is off unless a policy turns it on.
     */
    allowPrehashed: z.boolean().exactOptional(),
    /** Approver signatures over the signing request (api/approval.ts), from the pinned set. */
    requiredApprovals: z
      .object({ quorum: z.number().int().min(1) })
      .strict()
      .exactOptional(),
  })
  .strict();

export type Policy = z.infer<typeof PolicySchema>;
export type TimeWindow = z.infer<typeof TimeWindowSchema>;

/**
 * The policy of a key for which no policy plan was ever approved: it signs nothing. Each signer
 * applies its own policy, and an honest signer cannot see which client a corrupt assembling
 * party claims to serve; a permissive default would let one corrupt party have any message
 * signed. A key signs only after its approvers said what it may sign for (a policy plan); rules
 * that must hold even against a corrupt party belong in `requiredApprovals`.
 */
export function defaultPolicy(): Policy {
  return { version: 1, allowedPaths: [] };
}

/** Validates a policy; throws ContractError E_POLICY_INVALID naming the field. */
export function parsePolicy(value: unknown): Policy {
  const r = PolicySchema.safeParse(value);
  if (!r.success) throw new ContractError('E_POLICY_INVALID', describeIssues(r.error.issues));
  return r.data;
}

/** SHA-256 over the canonical policy under POLICY_TAG. */
export function policyHash(policy: Policy): Uint8Array {
  return canonicalHash(POLICY_TAG, parsePolicy(policy));
}

function matches(pattern: string, indices: readonly number[]): boolean {
  const elements = elementsOf(pattern);
  if (elements === undefined || elements.length !== indices.length) return false;
  return elements.every((e, k) => e === '*' || indexOf(e) === indices[k]);
}

/** True when `path` is a well-formed non-hardened path matched by one of the allowed patterns. */
export function pathAllowed(policy: Policy, path: string): boolean {
  const indices = parseDerivationPath(path);
  if (indices === undefined) return false;
  return policy.allowedPaths.some((p) => matches(p, indices));
}

const UTC_DAY: readonly Day[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** True when the policy has no time windows or `date` (UTC) falls inside one of them. */
export function withinTimeWindow(policy: Policy, date: Date): boolean {
  if (policy.timeWindows === undefined) return true;
  const t = date.getTime();
  if (!Number.isFinite(t)) return false;
  const day = UTC_DAY[date.getUTCDay()]!;
  const minute = date.getUTCHours() * 60 + date.getUTCMinutes();
  return policy.timeWindows.some((w) => w.days.includes(day) && minute >= minutesOf(w.from) && minute < minutesOf(w.to));
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * True when one more signature at `now` stays within the rate limits, given the times (ms since
 * the epoch) of the signatures this party already released for the key. Windows slide: the last
 * 60 s and the last 3600 s, each ending at `now`.
 */
export function withinRateLimits(policy: Policy, released: readonly number[], now: Date): boolean {
  const limits = policy.rateLimits;
  if (limits === undefined) return true;
  const t = now.getTime();
  if (!Number.isFinite(t)) return false;
  const inLast = (ms: number): number => released.filter((r) => r > t - ms && r <= t).length;
  if (limits.perMinute !== undefined && inLast(MINUTE_MS) >= limits.perMinute) return false;
  if (limits.perHour !== undefined && inLast(HOUR_MS) >= limits.perHour) return false;
  return true;
}

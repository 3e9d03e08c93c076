/**
 * Plans (DESIGN §4 "Plans and approvals"): the only thing that makes a party run keygen,
 * refresh, reshare or a policy change. A plan names the key, the epoch it creates, the threshold
 * and the ordered parties with their pinned identity keys and endpoints, an expiry and a nonce;
 * m-of-k approvers sign its canonical hash (api/approval.ts) and every party checks both itself.
 *
 * Party numbers are stable for the life of a key: they are the points at which the shares are
 * evaluated, so a reshare keeps every staying holder's number and gives each newcomer an unused
 * one. A keygen numbers its parties 1..n; later plans list the numbers the key's holders have,
 * ascending, which need not be consecutive once a party has left.
 *
 * The schema carries every rule that needs no context (2 ≤ t ≤ n, party numbers, unique
 * identities and endpoints, the shape of a reshare), so an approver's tool refuses a bad plan
 * before a human signs it. Rules that need the party's own state (expiry against its clock, its
 * identity, epoch continuity with the key it holds) live in sidecar/trust/verify-plan.ts.
 */
import { p256 } from '@noble/curves/nist.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { canonicalHash, ContractError, describeIssues, HASH_HEX_RE } from './canonical.ts';
import { PolicySchema } from './policy.ts';

/** Domain tag of the plan hash. */
export const PLAN_TAG = 'vilna-mpc/plan/v1';

/** Upper bound on n: the protocol's rounds are all-to-all, so this is far past practical. */
export const MAX_PARTIES = 64;
/**
 * Largest party number (the transport's and control plane's bound too): a newcomer takes a number
 * no previous holder has, so numbers can outgrow n over many reshares.
 */
export const MAX_PARTY_NUMBER = 1024;
/** Largest presignature pool a plan may ask each party to keep. */
export const MAX_PRESIGN_POOL = 1000;
/** Longest endpoint URL accepted. */
const MAX_ENDPOINT_CHARS = 2048;

export const PROTOCOLS = ['keygen', 'refresh', 'reshare', 'policy'] as const;
export type PlanProtocol = (typeof PROTOCOLS)[number];

/** Key ids are also file and label components, so a conservative alphabet. */
export const KEY_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const KeyIdSchema = z.string().regex(KEY_ID_RE, 'must be 1–64 of [A-Za-z0-9._-], starting with a letter or digit');

/**
 * Party names are shown to approvers in a terminal, so no control characters and no spaces:
 * letters, digits and `._:/-` (room for "cluster/namespace/name").
 */
const PARTY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/** A compressed P-256 point (SEC1 §2.3.3): 33 bytes as 66 lowercase hex characters. */
const IDENTITY_KEY_RE = /^0[23][0-9a-f]{64}$/;

function isP256Point(hex: string): boolean {
  try {
    p256.Point.fromHex(hex).assertValidity();
    return true;
  } catch {
    return false;
  }
}

export const IdentityKeySchema = z
  .string()
  .regex(IDENTITY_KEY_RE, 'must be a compressed P-256 public key as 66 lowercase hex characters')
  .refine(isP256Point, 'is not a point on P-256');

/** Why `s` is not an acceptable peer endpoint, or undefined when it is. */
function endpointProblem(s: string): string | undefined {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol !== 'https:') return 'must use https (peers talk over mutual TLS)';
  if (u.hostname === '') return 'has no host';
  if (u.username !== '' || u.password !== '') return 'must not carry credentials';
  if (u.search !== '' || u.hash !== '') return 'must not carry a query or fragment';
  return undefined;
}

/** The form two spellings of one endpoint share (case of the host, default port, "/"). */
export function normalizedEndpoint(endpoint: string): string {
  return new URL(endpoint).href;
}

export const EndpointSchema = z
  .string()
  .max(MAX_ENDPOINT_CHARS)
  // Printable ASCII only: the text is shown to approvers, and IDN hosts have a punycode spelling.
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
  .superRefine((s, ctx) => {
    const problem = endpointProblem(s);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

/** ISO-8601 UTC instant, seconds precision or up to milliseconds: 2026-05-01T12:00:00Z. */
const UTC_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,3})?Z$/;

/** True when `s` is a UTC timestamp in the form above naming a real calendar instant. */
export function isUtcTimestamp(s: string): boolean {
  const m = UTC_RE.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
  // Date.UTC rolls 2026-02-30 over to March; a round trip catches every impossible field.
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === sec;
}

export const UtcTimestampSchema = z.string().refine(isUtcTimestamp, 'must be an ISO-8601 UTC timestamp such as 2026-05-01T12:00:00Z');

export const PartySchema = z
  .object({
    index: z.number().int().min(1).max(MAX_PARTY_NUMBER),
    name: z.string().regex(PARTY_NAME_RE, 'must be 1–128 of [A-Za-z0-9._:/-], starting with a letter or digit'),
    identityKey: IdentityKeySchema,
    endpoint: EndpointSchema,
  })
  .strict();

export type PlanParty = z.infer<typeof PartySchema>;

const EpochSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const PreviousSchema = z
  .object({
    epoch: EpochSchema,
    threshold: z.number().int(),
    parties: z.array(PartySchema).min(1).max(MAX_PARTIES),
    /** Party numbers of the old holders that deal in the reshare: exactly `threshold` of them, ascending. */
    dealers: z.array(z.number().int()).max(MAX_PARTIES),
  })
  .strict();

type Ctx = z.core.$RefinementCtx;

/**
 * Party numbers 1..n in order (a keygen) or strictly ascending (later plans), unique identity
 * keys, names and endpoints, 2 ≤ t ≤ n.
 */
function checkPartySet(parties: readonly PlanParty[], threshold: number, consecutive: boolean, at: (string | number)[], ctx: Ctx): void {
  const issue = (path: (string | number)[], message: string): void => ctx.addIssue({ code: 'custom', path: [...at, ...path], message });
  parties.forEach((p, i) => {
    if (consecutive && p.index !== i + 1) issue(['parties', i, 'index'], `must be ${i + 1}: a keygen numbers its parties 1..n in order`);
    else if (!consecutive && i > 0 && p.index <= parties[i - 1]!.index) issue(['parties', i, 'index'], 'party numbers must be strictly ascending');
  });
  const n = parties.length;
  if (threshold < 2) issue(['threshold'], `${threshold} refused: t must be at least 2 (a 1-of-n key is a single point of compromise)`);
  else if (threshold > n) issue(['threshold'], `${threshold} exceeds the ${n} parties`);
  const seen = (field: 'identityKey' | 'name' | 'endpoint', norm: (v: string) => string): void => {
    const first = new Map<string, number>();
    parties.forEach((p, i) => {
      let key: string;
      try {
        key = norm(p[field]);
      } catch {
        return; // the field's own schema already reported it
      }
      const j = first.get(key);
      if (j !== undefined) issue(['parties', i, field], `duplicates parties[${j}].${field}`);
      else first.set(key, i);
    });
  };
  seen('identityKey', (v) => v);
  seen('name', (v) => v);
  seen('endpoint', normalizedEndpoint);
}

const PlanObjectSchema = z
  .object({
    version: z.literal(1),
    protocol: z.enum(PROTOCOLS),
    keyId: KeyIdSchema,
    /** The epoch this plan creates (keygen 0, refresh/reshare old + 1); for policy, the current one. */
    epoch: EpochSchema,
    threshold: z.number().int(),
    parties: z.array(PartySchema).min(1).max(MAX_PARTIES),
    previous: PreviousSchema.exactOptional(),
    policy: PolicySchema.exactOptional(),
    presignPool: z.number().int().min(0).max(MAX_PRESIGN_POOL).exactOptional(),
    expiresAt: UtcTimestampSchema,
    nonce: z.string().regex(HASH_HEX_RE, 'must be 32 random bytes as 64 lowercase hex characters'),
  })
  .strict();

export const PlanSchema = PlanObjectSchema.superRefine((plan, ctx) => {
  const issue = (path: (string | number)[], message: string): void => ctx.addIssue({ code: 'custom', path, message });
  checkPartySet(plan.parties, plan.threshold, plan.protocol === 'keygen', [], ctx);

  if (plan.protocol === 'keygen' && plan.epoch !== 0) issue(['epoch'], 'must be 0 for keygen');
  if ((plan.protocol === 'refresh' || plan.protocol === 'reshare') && plan.epoch < 1) issue(['epoch'], `must be at least 1 for ${plan.protocol} (it creates old + 1)`);

  if (plan.protocol === 'policy' && plan.policy === undefined) issue(['policy'], 'is required for a policy plan');
  // A keygen or reshare may carry the policy its (new) holders enforce: without one a key denies
  // everything, and a newcomer has none. A refresh keeps the policy in force.
  if (plan.protocol === 'refresh' && plan.policy !== undefined) issue(['policy'], 'is not allowed in a refresh (it keeps the policy in force); use a policy plan');

  const prev = plan.previous;
  if (plan.protocol !== 'reshare') {
    if (prev !== undefined) issue(['previous'], `is only allowed in a reshare plan, not ${plan.protocol}`);
    return;
  }
  if (prev === undefined) {
    issue(['previous'], 'is required for a reshare plan (the current holders and the dealers)');
    return;
  }
  checkPartySet(prev.parties, prev.threshold, false, ['previous'], ctx);
  if (prev.epoch !== plan.epoch - 1) issue(['previous', 'epoch'], `must be ${plan.epoch - 1}: a reshare creates epoch previous + 1`);
  const previousNumbers = prev.parties.map((p) => p.index);
  prev.dealers.forEach((d, i) => {
    if (!previousNumbers.includes(d)) issue(['previous', 'dealers', i], `${d} is not one of the previous parties (${previousNumbers.join(',')})`);
    if (i > 0 && d <= prev.dealers[i - 1]!) issue(['previous', 'dealers', i], 'dealers must be strictly ascending');
  });
  if (prev.dealers.length !== prev.threshold) {
    issue(['previous', 'dealers'], `must name exactly previous.threshold = ${prev.threshold} dealers, not ${prev.dealers.length}`);
  }
  // A share is the polynomial at the party's number: a staying party keeps it, a newcomer takes an unused one.
  plan.parties.forEach((p, i) => {
    const sameNumber = prev.parties.find((q) => q.index === p.index);
    const sameIdentity = prev.parties.find((q) => q.identityKey === p.identityKey);
    if (sameIdentity !== undefined && sameIdentity.index !== p.index) {
      issue(['parties', i, 'index'], `must stay ${sameIdentity.index}: this identity is previous party ${sameIdentity.index}, and a staying party keeps its number`);
    } else if (sameNumber !== undefined && sameNumber.identityKey !== p.identityKey) {
      issue(['parties', i, 'index'], `${p.index} belongs to another previous party; a newcomer takes a number no previous party has`);
    }
  });
  const sameSet = plan.parties.length === prev.parties.length && plan.parties.every((p, i) => p.identityKey === prev.parties[i]!.identityKey);
  if (sameSet && plan.threshold === prev.threshold) issue(['parties'], 'a reshare must change the parties or the threshold (same parties and threshold: use refresh)');
});

export type Plan = z.infer<typeof PlanSchema>;
export type PlanPrevious = z.infer<typeof PreviousSchema>;

/** Validates a plan; throws ContractError E_PLAN_INVALID naming the field and the rule. */
export function parsePlan(value: unknown): Plan {
  const r = PlanSchema.safeParse(value);
  if (!r.success) throw new ContractError('E_PLAN_INVALID', describeIssues(r.error.issues));
  return r.data;
}

/**
 * SHA-256 over the canonical plan under PLAN_TAG: what approvers sign. The plan is validated
 * first, so no hash is ever produced for something that is not a plan.
 */
export function planHash(plan: Plan): Uint8Array {
  return canonicalHash(PLAN_TAG, parsePlan(plan));
}

export function planHashHex(plan: Plan): string {
  return bytesToHex(planHash(plan));
}

/** The plan's expiry as a Date. */
export function planExpiry(plan: Plan): Date {
  return new Date(plan.expiresAt);
}

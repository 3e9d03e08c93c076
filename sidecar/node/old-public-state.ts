/**
 * The public state of an epoch that a reshare newcomer needs (DESIGN §3 "Reshare"): public key,
 * chain code, threshold, holders and their public shares. A newcomer holds none of it and asks
 * every dealer, over mTLS — which only says "some node of the CA". So each dealer signs its
 * answer with its HSM identity key (`signOldPublic`, under a domain tag, binding the key id, the
 * epoch and the hash of the reshare plan asked about), and the newcomer (`agreeOnOldPublic`)
 * checks every signature against that dealer's identity key as the approved plan names it
 * before it looks at, or compares, any answer:
 *
 * - an answer that is malformed or whose signature does not verify is not that dealer's
 *   statement: the reshare stops, naming nobody (E_RESHARE_STATE_UNVERIFIED) — a network
 *   attacker cannot get an honest dealer blamed, nor feed the newcomer a false state;
 * - a signed answer that contradicts the approved plan (epoch, threshold, holders), holds an
 *   invalid point or public shares that do not interpolate to its public key over the dealers is
 *   provably that dealer's false statement: it is named (E_RESHARE_STATE_INVALID), with the
 *   signed answer as evidence anyone can re-check against the plan;
 * - signed answers that are each sound but differ: at least one dealer lied and nothing here
 *   says which, so nobody is named (E_RESHARE_STATE_MISMATCH), both statements kept as evidence.
 */
import { z } from 'zod';
import { curve, protocols, transcript } from '../../cggmp/index.ts';
import { PlanError } from './plan-error.ts';
import type { PlanView } from './plan-view.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const dealersNamed = (ds: readonly number[]): string => `${ds.length === 1 ? 'dealer' : 'dealers'} ${ds.join(', ')}`;
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** Domain tag of a dealer's statement: no other identity-key signature passes for one. */
const STATEMENT_TAG = 'vilna-mpc/old-public-state/v1';
/** Upper bound on holders (api/plan.ts MAX_PARTIES). */
const MAX_HOLDERS = 64;

/** What a reshare needs of the old epoch besides the secret shares. */
export type OldPublic = Pick<protocols.KeySharePublic, 'threshold' | 'parties' | 'publicKey' | 'publicShares' | 'chainCode'>;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const compressedPoint = z.string().regex(/^0[23][0-9a-f]{64}$/);
const SignedOldPublicSchema = z.strictObject({
  keyId: z.string().max(64),
  epoch: z.number().int().min(0),
  /** The reshare plan the answer was given for. */
  planHash: hex64,
  threshold: z.number().int(),
  parties: z.array(z.number().int().min(1).max(1024)).max(MAX_HOLDERS),
  publicKey: compressedPoint,
  publicShares: z.array(compressedPoint).max(MAX_HOLDERS),
  chainCode: hex64,
  /** The dealer's identity-key signature (P-256 r‖s) over `oldPublicStatement`. */
  signature: z.string().regex(/^[0-9a-f]{128}$/),
});
type SignedOldPublic = z.infer<typeof SignedOldPublicSchema>;

/** The bytes a dealer signs: every field of its answer, under the tag, as the bytes on the wire. */
export function oldPublicStatement(a: Omit<SignedOldPublic, 'signature'>): Uint8Array {
  return transcript.encode(STATEMENT_TAG, [a.keyId, a.epoch, unhex(a.planHash), a.threshold, [...a.parties], unhex(a.publicKey), a.publicShares.map(unhex), unhex(a.chainCode)]);
}

/** A dealer's answer: its epoch's public state, signed for the reshare plan `planHash`. */
export async function signOldPublic(pub: protocols.KeySharePublic, planHash: string, signer: protocols.Signer): Promise<SignedOldPublic> {
  const statement = {
    keyId: pub.keyId,
    epoch: pub.epoch,
    planHash,
    threshold: pub.threshold,
    parties: [...pub.parties],
    publicKey: hex(pub.publicKey.toBytes(true)),
    publicShares: pub.publicShares.map((X) => hex(X.toBytes(true))),
    chainCode: hex(pub.chainCode),
  };
  return { ...statement, signature: hex(await signer.sign(oldPublicStatement(statement))) };
}

/** One dealer's answer as received, with the identity key the approved plan names for that dealer. */
export interface DealerAnswer {
  readonly dealer: number;
  readonly identityKey: string;
  readonly raw: unknown;
}

/** A reshare stopped over the old public state; `evidence` holds the signed statements it rests on (public values). */
export class OldPublicRefused extends PlanError {
  override readonly name = 'OldPublicRefused';
  readonly evidence: readonly { readonly dealer: number; readonly statement: unknown }[];
  constructor(code: string, message: string, opts: { culprits?: readonly number[]; evidence?: readonly { dealer: number; statement: unknown }[] } = {}) {
    super(code, message, opts.culprits === undefined ? {} : { culprits: opts.culprits });
    this.evidence = opts.evidence ?? [];
  }
}

/** The answer as this dealer's own signed statement about this key, epoch and plan; undefined when it is not. */
function signedBy(a: DealerAnswer, ctx: { keyId: string; epoch: number; planHash: string }): SignedOldPublic | undefined {
  const r = SignedOldPublicSchema.safeParse(a.raw);
  if (!r.success) return undefined;
  const v = r.data;
  if (v.keyId !== ctx.keyId || v.epoch !== ctx.epoch || v.planHash !== ctx.planHash) return undefined;
  const { signature, ...statement } = v;
  return protocols.verifyIdentitySignature(unhex(a.identityKey), oldPublicStatement(statement), unhex(signature)) ? v : undefined;
}

/** The state a signed answer states, if it is sound against the plan (else undefined: the dealer signed a false state). */
function soundState(v: SignedOldPublic, prev: NonNullable<PlanView['previous']>): OldPublic | undefined {
  const holders = prev.parties.map((p) => p.index);
  if (v.threshold !== prev.threshold || v.parties.join() !== holders.join() || v.publicShares.length !== v.parties.length) return undefined;
  let state: OldPublic;
  try {
    state = {
      threshold: v.threshold,
      parties: v.parties,
      publicKey: curve.decodePoint(unhex(v.publicKey), 'publicKey'),
      publicShares: v.publicShares.map((X, i) => curve.decodePoint(unhex(X), `publicShares[${i}]`)),
      chainCode: unhex(v.chainCode),
    };
  } catch {
    return undefined;
  }
  // Σ_{i ∈ dealers} λ_i·X_i = Y: what every participant's reshare checks, so a state failing it is false.
  const dealers = prev.dealers.map(BigInt);
  let Y = curve.IDENTITY;
  for (const d of prev.dealers) Y = Y.add(curve.mulPointPublic(state.publicShares[v.parties.indexOf(d)]!, protocols.lagrangeAtZero(dealers, BigInt(d))));
  return Y.equals(state.publicKey) ? state : undefined;
}

export function encodeOldPublic(o: OldPublic): string {
  return [o.threshold, o.parties.join(), hex(o.publicKey.toBytes(true)), o.publicShares.map((X) => hex(X.toBytes(true))).join(), hex(o.chainCode)].join('|');
}

/**
 * A newcomer's view of the old epoch: every dealer's answer verified as that dealer's signed
 * statement for this plan, sound against the plan, and all of them equal (see the module
 * comment for who is named when they are not).
 */
export function agreeOnOldPublic(answers: readonly DealerAnswer[], ctx: { keyId: string; planHash: string; previous: NonNullable<PlanView['previous']> }): OldPublic {
  const prev = ctx.previous;
  if (answers.length === 0) throw new PlanError('E_PLAN_INVALID', 'a reshare names its dealers');
  const signed = answers.map((a) => ({ a, v: signedBy(a, { keyId: ctx.keyId, epoch: prev.epoch, planHash: ctx.planHash }) }));
  const sound = signed.map(({ a, v }) => ({ a, v, state: v ? soundState(v, prev) : undefined }));
  const lying = sound.filter((s) => s.v !== undefined && s.state === undefined);
  if (lying.length > 0) {
    const named = lying.map((s) => s.a.dealer);
    throw new OldPublicRefused('E_RESHARE_STATE_INVALID', `${dealersNamed(named)} signed a public state of the key that contradicts the approved plan`, {
      culprits: named,
      evidence: lying.map((s) => ({ dealer: s.a.dealer, statement: s.v })),
    });
  }
  const unverified = signed.filter((s) => s.v === undefined).map((s) => s.a.dealer);
  if (unverified.length > 0) {
    throw new OldPublicRefused('E_RESHARE_STATE_UNVERIFIED', `what was received for ${dealersNamed(unverified)} is not a signed public state of that dealer for this plan; nobody is blamed`);
  }
  const states = sound.map((s) => s.state!);
  const first = encodeOldPublic(states[0]!);
  if (states.some((s) => encodeOldPublic(s) !== first)) {
    throw new OldPublicRefused('E_RESHARE_STATE_MISMATCH', 'the dealers signed different public states of the key; which of them is wrong cannot be told here', {
      evidence: sound.map((s) => ({ dealer: s.a.dealer, statement: s.v })),
    });
  }
  return states[0]!;
}

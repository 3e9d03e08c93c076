/**
 * The named corrupt behaviours of `vilna-mpc simulate --corrupt PARTY:BEHAVIOUR` (DESIGN §7, §8):
 * each says in which protocol the corrupt party deviates and how — through the adversarial
 * channel, a corrupt session that believes its own lie, or bad keys it brings to aux-info.
 */
import { generatePrimeSync } from 'node:crypto';
import { bitLength, type PrimeSource } from '../arith/index.ts';
import { CURVE_ORDER, G, type Point } from '../curve/index.ts';
import { generatePaillierKey, paillierSecretKeyUnchecked, type PaillierSecretKey } from '../paillier/index.ts';
import { primeBits, type SecurityLevel } from '../params.ts';
import { generateRingPedersen } from '../ring-pedersen/index.ts';
import type { AuxKeys } from '../protocols/aux-info.ts';
import type { PartyIndex } from '../protocols/channel.ts';
import type { Signer } from '../protocols/identity.ts';
import type { ResharePlan } from '../protocols/reshare.ts';
import { SIGN_ROUND } from '../protocols/sign.ts';
import type { Encodable } from '../transcript/index.ts';
import type { Behaviour, SessionTamper } from './adversary.ts';
import { reshareDealOfConstant } from './dishonest-dealer.ts';

export type ProtocolName = 'keygen' | 'aux-info' | 'presign' | 'sign' | 'refresh' | 'reshare';

export interface CorruptionContext {
  readonly party: PartyIndex;
  readonly signer: Signer;
  readonly reshare?: ResharePlan;
  /** What the adversary remembers across the sessions of one run (e.g. proofs to replay). */
  readonly memory: Map<string, Encodable>;
}

export interface Corruption {
  readonly protocol: ProtocolName;
  /** Adversarial channel behaviour, given the session id the flow chose. */
  readonly channel?: (sid: Uint8Array, ctx: CorruptionContext) => Behaviour | Promise<Behaviour>;
  /** A corrupt session that believes its own lie, given the session id the flow chose. */
  readonly session?: (sid: Uint8Array, ctx: { party: PartyIndex; reshare?: ResharePlan }) => SessionTamper;
  /** Keys the corrupt party brings to aux-info instead of honest ones. */
  readonly auxKeys?: (level: SecurityLevel, primes: PrimeSource) => Promise<AuxKeys>;
}

type Rec = { readonly [k: string]: Encodable };
const rec = (v: unknown): Rec => v as Rec;
const p2p = (round: number, f: (v: Rec, to: PartyIndex) => Encodable): Behaviour => (m) =>
  m.round === round && m.recipient !== 0 ? { value: f(rec(m.value), m.recipient) } : undefined;
const bcast = (round: number, f: (v: Rec) => Encodable): Behaviour => (m) => (m.round === round && m.recipient === 0 ? { value: f(rec(m.value)) } : undefined);
const plus1 = (x: Encodable | undefined): bigint => (x as bigint) + 1n;

/** A Paillier "key" the corrupt party presents: any modulus it likes, validation skipped on purpose. */
function unsafePaillierKey(p: bigint, q: bigint): PaillierSecretKey {
  return paillierSecretKeyUnchecked(p, q);
}

function primeWith(bits: number, mod4: bigint): bigint {
  for (;;) {
    const p = generatePrimeSync(bits, { bigint: true });
    if (p % 4n === mod4 && p >> BigInt(bits - 2) === 3n) return p;
  }
}

function badModulusKeys(make: (level: SecurityLevel) => [bigint, bigint]): NonNullable<Corruption['auxKeys']> {
  return async (level, primes) => {
    const [p, q] = make(level);
    if (bitLength(p * q) !== level.modulusBits) throw new Error('bad modulus has the wrong size');
    return { paillier: unsafePaillierKey(p, q), ringPedersen: await generateRingPedersen(level, primes) };
  };
}

export const BEHAVIOURS: Readonly<Record<string, Corruption>> = {
  sch: { protocol: 'keygen', channel: () => bcast(4, (v) => ({ ...v, z: plus1(v.z) % CURVE_ORDER })) },
  commitment: { protocol: 'keygen', channel: () => bcast(3, (v) => ({ ...v, u: new Uint8Array(32) })) },
  'vss-share': { protocol: 'keygen', channel: () => p2p(3, (v) => ({ ...v, sigma: plus1(v.sigma) % CURVE_ORDER })) },
  equivocate: {
    protocol: 'keygen',
    // The lowest other party gets a different commitment from everyone else.
    channel: (_sid, { party }) => (m) =>
      m.round === 1 && m.recipient === 0
        ? { perRecipient: (to) => (to === (party === 1 ? 2 : 1) ? { ...rec(m.value), V: new Uint8Array(32).fill(to) } : (m.value as Encodable)) }
        : undefined,
  },
  prm: {
    protocol: 'aux-info',
    // λ that does not give s = t^λ: the honest Π^prm algorithm then cannot convince anyone.
    auxKeys: async (level, primes) => {
      const rp = await generateRingPedersen(level, primes);
      return { paillier: await generatePaillierKey(level, primes), ringPedersen: { ...rp, lambda: rp.lambda + 1n } };
    },
  },
  mod: { protocol: 'aux-info', channel: () => bcast(4, (v) => ({ mod: { ...rec(v.mod), w: plus1(rec(v.mod).w) } })) },
  fac: { protocol: 'aux-info', channel: () => p2p(4, (v) => ({ fac: { ...rec(v.fac), z1: plus1(rec(v.fac).z1) } })) },
  'small-factor-modulus': {
    protocol: 'aux-info',
    auxKeys: badModulusKeys((level) => {
      const p = primeWith(128, 3n);
      return [p, primeWith(level.modulusBits - 128, 3n)];
    }),
  },
  'non-blum-modulus': {
    protocol: 'aux-info',
    auxKeys: badModulusKeys((level) => [primeWith(primeBits(level), 1n), primeWith(primeBits(level), 3n)]),
  },
  'enc-elg': { protocol: 'presign', channel: () => p2p(1, (v) => ({ ...v, psi0: { ...rec(v.psi0), z3: plus1(rec(v.psi0).z3) } })) },
  'out-of-range': {
    protocol: 'presign',
    // z1 = 2^(ℓ+ε+8): far outside ±2^(ℓ+ε), the range Π^enc-elg guarantees.
    channel: () => p2p(1, (v) => ({ ...v, psi1: { ...rec(v.psi1), z1: 1n << 1024n } })),
  },
  'aff-g': { protocol: 'presign', channel: () => p2p(3, (v) => ({ ...v, psi: { ...rec(v.psi), z1: plus1(rec(v.psi).z1) } })) },
  elog: { protocol: 'presign', channel: () => bcast(3, (v) => ({ ...v, psi: { ...rec(v.psi), z: plus1(rec(v.psi).z) % CURVE_ORDER } })) },
  replay: {
    protocol: 'presign',
    // The Π^enc-elg proofs of an earlier presigning session, replayed into a later one: the
    // first session runs honestly and is remembered.
    channel: (_sid, { memory }) => (m) => {
      if (m.round !== 1 || m.recipient === 0) return undefined;
      const key = `presign-r1-to-${m.recipient}`;
      const earlier = memory.get(key);
      if (earlier === undefined) {
        memory.set(key, m.value as Encodable);
        return undefined;
      }
      return { value: earlier };
    },
  },
  delta: { protocol: 'presign', session: () => (round, to, v) => (round === 4 && to === 0 ? { ...rec(v), delta: plus1(rec(v).delta) % CURVE_ORDER } : undefined) },
  // A wrong S_i = χ_i·Γ (plus G): δ·X ≠ ΣS_j, which nobody can attribute (the χ side is never
  // opened), so the honest signers abort `unattributed` — the griefing of issue 10 item 4.
  chi: { protocol: 'presign', session: () => (round, to, v) => (round === 4 && to === 0 ? { ...rec(v), S: (rec(v).S as Point).add(G) } : undefined) },
  // The online round's partial signature sent with another digest: the honest signers cannot
  // tell whether this signer or the assembling node lied about the message, so `unattributed`.
  'sign-digest': {
    protocol: 'sign',
    session: () => (round, to, v) => (round === SIGN_ROUND && to === 0 ? { ...rec(v), digest: Uint8Array.from(rec(v).digest as Uint8Array, (b, i) => (i === 0 ? b ^ 1 : b)) } : undefined),
  },
  'reshare-constant': {
    protocol: 'reshare',
    // A whole self-consistent deal of a polynomial with the wrong constant: only the
    // constant-term check against λ_i·X_i can catch it.
    session: (sid, ctx) => {
      if (!ctx.reshare) throw new Error('reshare-constant needs the reshare plan');
      return reshareDealOfConstant({ sid, party: ctx.party }, ctx.reshare, 7n);
    },
  },
};

export const BEHAVIOUR_NAMES: readonly string[] = Object.keys(BEHAVIOURS);

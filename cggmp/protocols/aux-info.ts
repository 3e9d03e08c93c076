/**
 * Provisioning (aux-info), spec §"Provisioning Protocol": each party makes an independent
 * Paillier key and ring-Pedersen parameters, proves the latter with Π^prm inside a hash
 * commitment, then proves its Paillier modulus with Π^mod to everyone and Π^fac to each peer
 * under that peer's ring-Pedersen parameters.
 */
import { randomBytes } from 'node:crypto';
import { freshPrimes, type PrimeSource } from '../arith/index.ts';
import { generatePaillierKey, paillierPublicKey, type PaillierSecretKey } from '../paillier/index.ts';
import type { SecurityLevel } from '../params.ts';
import {
  generateRingPedersen,
  ringPedersenParams,
  ringPedersenPublic,
  type RingPedersenParams,
  type RingPedersenSecret,
} from '../ring-pedersen/index.ts';
import { proveFac, proveMod, provePrm, verifyFac, verifyMod, verifyPrm, type PrmProof } from '../zk/index.ts';
import { sameBytes, type PartyIndex } from './channel.ts';
import { bytes, exactRecord, int, ints, list, record, type Rec } from './fields.ts';
import { InvalidInputError } from '../errors.ts';
import { hashCommit, xorAll } from './hash-commit.ts';
import type { AuxPublic } from './key-share.ts';
import type { Session } from './session.ts';
import type { Decoded } from '../transcript/index.ts';

export const AUX_INFO = 'aux-info';
export const AUX_INFO_ROUNDS = { commit: 1, echo: 2, decommit: 3, prove: 4 } as const;
const KAPPA_BYTES = 32;

export interface AuxKeys {
  readonly paillier: PaillierSecretKey;
  readonly ringPedersen: RingPedersenSecret;
}

export interface AuxInfoInput {
  readonly level: SecurityLevel;
  /** Safe primes (a pool of precomputed ones, or fresh generation); four are taken, each once. */
  readonly primes?: PrimeSource;
}

export interface AuxInfoOutput {
  /** Every party's N and R, aligned with the session's parties. */
  readonly aux: readonly AuxPublic[];
  /** This party's Paillier primes. */
  readonly paillier: { readonly p: bigint; readonly q: bigint };
}

export async function generateAuxKeys(level: SecurityLevel, primes: PrimeSource = freshPrimes): Promise<AuxKeys> {
  const paillier = await generatePaillierKey(level, primes);
  const ringPedersen = await generateRingPedersen(level, primes);
  return { paillier, ringPedersen };
}

interface Opening {
  readonly N: bigint;
  readonly R: RingPedersenParams;
  readonly prm: PrmProof;
  readonly rho: Uint8Array;
  readonly u: Uint8Array;
}

function openingValue(o: Opening): { [k: string]: bigint | Uint8Array | { [k: string]: bigint | readonly bigint[] } } {
  return { N: o.N, Nhat: o.R.N, s: o.R.s, t: o.R.t, prm: { A: o.prm.A, z: o.prm.z }, rho: o.rho, u: o.u };
}

export function auxCommitment(sid: Uint8Array, party: PartyIndex, o: Opening): Uint8Array {
  return hashCommit(AUX_INFO, sid, party, [o.N, o.R.N, o.R.s, o.R.t, [o.prm.A, o.prm.z], o.rho, o.u]);
}

/** The shared state of Π^prm (spec: Encode(sid, i)) and of Π^mod, Π^fac (Encode(sid, i, ρ)). */
export function auxProofContext(sid: Uint8Array, prover: PartyIndex, rho: Uint8Array = new Uint8Array(0)) {
  return { sessionId: sid, prover, rid: rho };
}

export function readOpening(v: Decoded, level: SecurityLevel): Opening {
  const r = exactRecord(v, 'aux opening', ['N', 'Nhat', 's', 't', 'prm', 'rho', 'u']);
  const prm = exactRecord(r.prm, 'prm', ['A', 'z']);
  return {
    N: paillierPublicKey(int(r, 'N'), level, 'N').N,
    R: ringPedersenParams({ N: int(r, 'Nhat'), s: int(r, 's'), t: int(r, 't') }, level),
    prm: { A: ints(prm, 'A', level.m), z: ints(prm, 'z', level.m) },
    rho: bytes(r, 'rho', KAPPA_BYTES),
    u: bytes(r, 'u', KAPPA_BYTES),
  };
}

/**
 * Runs provisioning. `keys` lets the caller supply already generated keys (the sidecar's sealed
 * prime pool does; tests do); otherwise they are generated from `input.primes`.
 */
export async function auxInfo(s: Session, input: AuxInfoInput, keys?: AuxKeys): Promise<AuxInfoOutput> {
  const { sid, self, parties } = s.params;
  const { level } = input;
  const R = AUX_INFO_ROUNDS;
  const own = keys ?? (await generateAuxKeys(level, input.primes));
  const sk = own.paillier;

  // Round 1: keys, Π^prm under Encode(sid, i), ρ_i, u_i, and the commitment V_i.
  const mine: Opening = {
    N: sk.N,
    R: ringPedersenPublic(own.ringPedersen),
    prm: provePrm(level, auxProofContext(sid, self), own.ringPedersen),
    rho: randomBytes(KAPPA_BYTES),
    u: randomBytes(KAPPA_BYTES),
  };
  await s.send(R.commit, { V: auxCommitment(sid, self, mine) });
  const r1 = await s.collect(R.commit);
  const V = new Map<PartyIndex, Uint8Array>();
  for (const [j, m] of r1.broadcast) {
    V.set(j, s.blame(R.commit, j, () => ({ check: 'aux-commit-shape', envelopes: [m.envelope] }), () => bytes(exactRecord(m.value, 'r1', ['V']), 'V', 32)));
  }

  // Round 2: echo.
  await s.echo(r1, R.echo);

  // Round 3: open; check every opening, size and Π^prm.
  await s.send(R.decommit, openingValue(mine));
  const r3 = await s.collect(R.decommit);
  const open = new Map<PartyIndex, Opening>([[self, mine]]);
  for (const j of s.others) {
    const b = r3.broadcast.get(j)!;
    const o = s.blame(R.decommit, j, () => ({ check: 'aux-opening', envelopes: [b.envelope] }), () => readOpening(b.value, level));
    if (!sameBytes(auxCommitment(sid, j, o), V.get(j)!)) {
      s.abort({
        round: R.decommit,
        culprits: [j],
        reason: 'commitment-mismatch',
        detail: `party ${j}'s opening does not match its round-1 commitment`,
        evidence: { check: 'aux-commitment', envelopes: [b.envelope, r1.broadcast.get(j)!.envelope] },
      });
    }
    s.blame(R.decommit, j, () => ({ check: 'aux-prm', envelopes: [b.envelope] }), () =>
      verifyPrm(level, auxProofContext(sid, j), o.R, o.prm),
    );
    open.set(j, o);
  }
  const rho = xorAll(parties.map((j) => open.get(j)!.rho));

  // Π^mod to all, Π^fac to each peer under the peer's R_j, both under Encode(sid, i, ρ).
  const ctxOf = (j: PartyIndex) => auxProofContext(sid, j, rho);
  const mod = proveMod(level, ctxOf(self), sk.N, sk.p, sk.q);
  await s.send(R.prove, { mod: { w: mod.w, rounds: mod.rounds.map((r) => [r.x, r.a, r.b, r.z]) } }, (j) => {
    const fac = proveFac(level, ctxOf(self), open.get(j)!.R, sk.N, sk.p, sk.q);
    return { fac: { P: fac.P, Q: fac.Q, A: fac.A, B: fac.B, T: fac.T, z1: fac.z1, z2: fac.z2, w1: fac.w1, w2: fac.w2, v: fac.v } };
  });
  const r4 = await s.collect(R.prove);
  const myR = mine.R;
  for (const j of s.others) {
    const b = r4.broadcast.get(j)!;
    const p = r4.p2p.get(j)!;
    const Nj = open.get(j)!.N;
    s.blame(R.prove, j, () => ({ check: 'aux-mod', envelopes: [b.envelope, ...parties.map((k) => r3.broadcast.get(k)!.envelope)] }), () =>
      verifyMod(level, ctxOf(j), Nj, readMod(b.value, level)),
    );
    s.blame(
      R.prove,
      j,
      () => ({ check: 'aux-fac', envelopes: [p.envelope, ...parties.map((k) => r3.broadcast.get(k)!.envelope)] }),
      () => verifyFac(level, ctxOf(j), myR, Nj, readFac(p.value)),
    );
  }
  return {
    aux: parties.map((j) => ({ N: open.get(j)!.N, R: open.get(j)!.R })),
    paillier: { p: sk.p, q: sk.q },
  };
}

export function readMod(v: Decoded, level: SecurityLevel) {
  const r = record(exactRecord(v, 'r4', ['mod']).mod, 'mod');
  const m = exactRecord(r, 'mod', ['w', 'rounds']);
  return {
    w: int(m, 'w'),
    rounds: list(m, 'rounds', level.m).map((round, i) => {
      const t = list({ round } as Rec, 'round', 4);
      const [x, a, b, z] = t;
      if (typeof x !== 'bigint' || typeof z !== 'bigint' || (a !== 0 && a !== 1) || (b !== 0 && b !== 1)) {
        throw new InvalidInputError(`mod.rounds[${i}]`, 'expected (x, a, b, z) with a, b bits');
      }
      return { x, a: a as 0 | 1, b: b as 0 | 1, z };
    }),
  };
}

export function readFac(v: Decoded) {
  const f = exactRecord(exactRecord(v, 'r4 p2p', ['fac']).fac, 'fac', ['P', 'Q', 'A', 'B', 'T', 'z1', 'z2', 'w1', 'w2', 'v']);
  return { P: int(f, 'P'), Q: int(f, 'Q'), A: int(f, 'A'), B: int(f, 'B'), T: int(f, 'T'), z1: int(f, 'z1'), z2: int(f, 'z2'), w1: int(f, 'w1'), w2: int(f, 'w2'), v: int(f, 'v') };
}

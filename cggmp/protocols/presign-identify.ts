/**
 * Identifying who broke presigning's δ check (δ·G ≠ ΣΔ_j). The 2024 revision identifies the
 * culprit with extra proofs; this does it by opening instead: the presignature is discarded,
 * so each signer opens only the values of the δ multiplication — its nonce shares k_j, γ_j with
 * their encryption randomness, its MtA masks β_{j,ℓ} with their randomness — and forwards the
 * signed round-3 messages it received. The χ side (which involves the key shares) is never
 * opened. Anyone can then recompute every δ_j from signed data alone: the first signer whose
 * opening, messages or δ_j do not add up is the culprit, and the same function re-run by a third
 * party on the same signed envelopes names the same one.
 */
import { inPlusMinus, mod } from '../arith/index.ts';
import { CURVE_ORDER } from '../curve/index.ts';
import { InvalidInputError } from '../errors.ts';
import { add, encrypt, mulPublic, type PaillierPublicKey } from '../paillier/index.ts';
import type { SecurityLevel } from '../params.ts';
import { decodeValue, encodeValue, type Decoded, type Encodable } from '../transcript/index.ts';
import { assertInZnStar } from '../validate.ts';
import { envelopeSignatureValid, envelopeValue, sameBytes, type Envelope, type PartyIndex } from './channel.ts';
import { exactRecord, int, list, readEnvelope } from './fields.ts';

const q = CURVE_ORDER;

export interface DeltaOpening {
  readonly k: bigint;
  readonly rho: bigint;
  readonly gamma: bigint;
  readonly v: bigint;
  /** For each other signer ℓ: β_{j,ℓ} and the randomness s_{j,ℓ} of enc_ℓ(−β_{j,ℓ}). */
  readonly masks: ReadonlyMap<PartyIndex, { readonly beta: bigint; readonly s: bigint }>;
  /** The signed round-3 point-to-point envelopes this signer received, by sender. */
  readonly received: ReadonlyMap<PartyIndex, Envelope>;
}

export function deltaOpeningValue(o: DeltaOpening): Encodable {
  return {
    k: o.k,
    rho: o.rho,
    gamma: o.gamma,
    v: o.v,
    masks: [...o.masks].map(([l, m]) => [l, m.beta, m.s]),
    received: [...o.received].map(([l, e]) => [l, encodeValue(envelopeValue(e))]),
  };
}

export function readDeltaOpening(v: Decoded, others: readonly PartyIndex[]): DeltaOpening {
  const r = exactRecord(v, 'δ opening', ['k', 'rho', 'gamma', 'v', 'masks', 'received']);
  const masks = new Map<PartyIndex, { beta: bigint; s: bigint }>();
  list(r, 'masks', others.length).forEach((m, i) => {
    const t = list({ m }, 'm', 3);
    if (t[0] !== others[i] || typeof t[1] !== 'bigint' || typeof t[2] !== 'bigint') throw new InvalidInputError(`masks[${i}]`, 'malformed');
    masks.set(others[i]!, { beta: t[1], s: t[2] });
  });
  const received = new Map<PartyIndex, Envelope>();
  list(r, 'received', others.length).forEach((m, i) => {
    const t = list({ m }, 'm', 2);
    if (t[0] !== others[i] || !(t[1] instanceof Uint8Array)) throw new InvalidInputError(`received[${i}]`, 'malformed');
    received.set(others[i]!, readEnvelope(decodeValue(t[1])));
  });
  return { k: int(r, 'k'), rho: int(r, 'rho'), gamma: int(r, 'gamma'), v: int(r, 'v'), masks, received };
}

export interface DeltaTranscript {
  readonly level: SecurityLevel;
  readonly sid: Uint8Array;
  readonly signers: readonly PartyIndex[];
  readonly identities: ReadonlyMap<PartyIndex, Uint8Array>;
  /** Paillier key of each signer (from the checker's own key share). */
  readonly paillier: ReadonlyMap<PartyIndex, PaillierPublicKey>;
  /** Round-1 ciphertexts K_j, G_j and round-4 δ_j as each signer broadcast them. */
  readonly K: ReadonlyMap<PartyIndex, bigint>;
  readonly G: ReadonlyMap<PartyIndex, bigint>;
  readonly delta: ReadonlyMap<PartyIndex, bigint>;
  /** Each signer's opening, decoded from its signed identification message (or the read error). */
  readonly openings: ReadonlyMap<PartyIndex, DeltaOpening | Error>;
  readonly mtaRound: number;
}

export interface DeltaVerdict {
  readonly culprit: PartyIndex;
  readonly detail: string;
}

/** The first signer whose opening, forwarded messages or δ_j fail; undefined when all add up. */
export function identifyDeltaCulprit(t: DeltaTranscript): DeltaVerdict | undefined {
  const ellBound = 1n << BigInt(t.level.ell);
  // 1. Each opening is well formed and opens the signer's own K_j and G_j.
  for (const j of t.signers) {
    const o = t.openings.get(j);
    const pk = t.paillier.get(j)!;
    if (!o || o instanceof Error) return { culprit: j, detail: `party ${j}'s opening is malformed` };
    try {
      if (!inPlusMinus(o.k, ellBound) || !inPlusMinus(o.gamma, ellBound)) throw new InvalidInputError('k, γ', 'out of range');
      assertInZnStar(o.rho, pk.N, 'rho');
      assertInZnStar(o.v, pk.N, 'v');
      if (encrypt(pk, o.k, o.rho) !== t.K.get(j) || encrypt(pk, o.gamma, o.v) !== t.G.get(j)) throw new InvalidInputError('K, G', 'do not open');
    } catch {
      return { culprit: j, detail: `party ${j}'s opening does not open its K and G` };
    }
  }
  // 2. Every forwarded round-3 message is genuine, and each sender's D matches its opening.
  for (const j of t.signers) {
    const o = t.openings.get(j) as DeltaOpening;
    for (const l of t.signers) {
      if (l === j) continue;
      const e = o.received.get(l)!;
      if (e.sender !== l || e.recipient !== j || e.round !== t.mtaRound || !sameBytes(e.sid, t.sid) || !envelopeSignatureValid(e, t.identities)) {
        return { culprit: j, detail: `party ${j} forwarded a message party ${l} did not sign` };
      }
      const ol = t.openings.get(l) as DeltaOpening;
      const mask = ol.masks.get(j)!;
      const pkj = t.paillier.get(j)!;
      let D: bigint;
      let recomputed: bigint;
      try {
        D = int(exactRecord(decodeValue(e.payload), 'presign r3 p2p', ['D', 'F', 'DHat', 'FHat', 'psi', 'psiHat']), 'D');
        if (!inPlusMinus(mask.beta, 1n << BigInt(t.level.ellPrime))) throw new InvalidInputError('beta', 'out of range');
        assertInZnStar(mask.s, pkj.N, 's');
        recomputed = add(pkj, mulPublic(pkj, ol.gamma, t.K.get(j)!), encrypt(pkj, -mask.beta, mask.s));
      } catch {
        return { culprit: l, detail: `party ${l}'s opening or message to party ${j} is malformed` };
      }
      if (recomputed !== D) {
        return { culprit: l, detail: `party ${l}'s D for party ${j} does not match its opening` };
      }
    }
  }
  // 3. δ_j = k_j·γ_j + Σ_ℓ (α_{j,ℓ} + β_{j,ℓ}) with α_{j,ℓ} = γ_ℓ·k_j − β_{ℓ,j}.
  for (const j of t.signers) {
    const o = t.openings.get(j) as DeltaOpening;
    let expected = o.k * o.gamma;
    for (const l of t.signers) {
      if (l === j) continue;
      const ol = t.openings.get(l) as DeltaOpening;
      expected += ol.gamma * o.k - ol.masks.get(j)!.beta + o.masks.get(l)!.beta;
    }
    if (mod(expected, q) !== t.delta.get(j)) return { culprit: j, detail: `party ${j}'s δ share is not what its opening gives` };
  }
  return undefined;
}

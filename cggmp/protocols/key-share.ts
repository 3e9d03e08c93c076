/**
 * The key share each party keeps (DESIGN §3): a versioned structure with the public part, which
 * every holder has identically, separate from the secret part. Evaluation points are the
 * parties' 1-based numbers: party p holds f(p) of the group's Shamir polynomial f.
 */
import type { Point } from '../curve/index.ts';
import type { RingPedersenParams } from '../ring-pedersen/index.ts';
import type { PartyIndex } from './channel.ts';

export const KEY_SHARE_VERSION = 1;

/** One party's auxiliary public data (spec provisioning output): Paillier N and ring-Pedersen R. */
export interface AuxPublic {
  readonly N: bigint;
  readonly R: RingPedersenParams;
}

export interface KeySharePublic {
  readonly version: typeof KEY_SHARE_VERSION;
  readonly curve: 'secp256k1';
  readonly keyId: string;
  readonly epoch: number;
  readonly threshold: number;
  /** Holders' party numbers, ascending. */
  readonly parties: readonly PartyIndex[];
  /** Y: the group public key. */
  readonly publicKey: Point;
  /** X_p = f(p)·G for each holder, aligned with `parties`. */
  readonly publicShares: readonly Point[];
  /** Jointly agreed BIP32 chain code. */
  readonly chainCode: Uint8Array;
  /** Aux data of each holder, aligned with `parties` (absent between keygen and aux-info). */
  readonly aux?: readonly AuxPublic[];
}

export interface KeyShareSecret {
  readonly index: PartyIndex;
  /** x_i = f(i). */
  readonly x: bigint;
  /** This party's Paillier primes (after aux-info). */
  readonly paillier?: { readonly p: bigint; readonly q: bigint };
}

export interface KeyShare {
  readonly public: KeySharePublic;
  readonly secret: KeyShareSecret;
}

export function positionOf(pub: KeySharePublic, party: PartyIndex): number {
  const at = pub.parties.indexOf(party);
  if (at < 0) throw new Error(`party ${party} holds no share of key ${pub.keyId}`);
  return at;
}

/** The share completed by aux-info: every holder's N and R, and this party's Paillier primes. */
export function withAux(
  share: KeyShare,
  aux: { readonly aux: readonly AuxPublic[]; readonly paillier: { readonly p: bigint; readonly q: bigint } },
): KeyShare {
  if (aux.aux.length !== share.public.parties.length) throw new Error('aux-info ran with another set of parties');
  return { public: { ...share.public, aux: aux.aux }, secret: { ...share.secret, paillier: aux.paillier } };
}

/**
 * Hash commitments V = H(Encode_hash_com(sid, i, …, u)) of the keygen and provisioning rounds
 * (spec §"Distributed Key Generation", §"Provisioning Protocol"), with H = SHA-256.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { encode, type Encodable } from '../transcript/index.ts';

export function hashCommit(protocol: string, sid: Uint8Array, party: number, values: readonly Encodable[]): Uint8Array {
  return sha256(encode(`vilna-mpc/cggmp24/${protocol}/hash_com/v1`, [sid, party, ...values]));
}

/** XOR of equal-length byte strings (rid = ⊕ rid_j, chain code = ⊕ c_j). */
export function xorAll(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts[0]?.length ?? 0);
  for (const p of parts) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) ^ (p[i] as number);
  return out;
}

import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { approverSetHash, isUsableEd25519PublicKey, makeApproverSet, parseApproverSet } from './approver-set.ts';
import { ContractError } from './canonical.ts';

function approverKey(): string {
  const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  return der.subarray(-32).toString('hex');
}

const keys = [approverKey(), approverKey(), approverKey()].sort();

function refusal(v: unknown): string {
  try {
    parseApproverSet(v);
  } catch (e) {
    expect(e).toBeInstanceOf(ContractError);
    expect((e as ContractError).code).toBe('E_APPROVER_SET_INVALID');
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

/** 32 bytes that are not the encoding of any Ed25519 point (no square root for x²). */
function notAPoint(): string {
  for (let i = 2; ; i++) {
    const b = new Uint8Array(32);
    b[0] = i;
    try {
      ed25519.Point.fromBytes(b, false);
    } catch {
      return bytesToHex(b);
    }
  }
}

describe('approver set', () => {
  it('accepts sorted keys with 1 ≤ m ≤ k and hashes them to 32 bytes', () => {
    const set = parseApproverSet({ keys, quorum: 2 });
    expect(approverSetHash(set)).toHaveLength(32);
    expect(approverSetHash(set)).toEqual(approverSetHash({ quorum: 2, keys: [...keys] }));
  });

  it('gives a different hash when the quorum or any key changes', () => {
    const base = approverSetHash({ keys, quorum: 2 });
    expect(approverSetHash({ keys, quorum: 3 })).not.toEqual(base);
    expect(approverSetHash(makeApproverSet([keys[0]!, keys[1]!, approverKey()], 2))).not.toEqual(base);
    expect(approverSetHash({ keys: keys.slice(0, 2), quorum: 2 })).not.toEqual(base);
  });

  it('makeApproverSet sorts keys given in any order', () => {
    expect(makeApproverSet([...keys].reverse(), 2)).toEqual({ keys, quorum: 2 });
  });

  it('refuses unsorted keys and duplicates', () => {
    expect(refusal({ keys: [...keys].reverse(), quorum: 2 })).toMatch(/strictly ascending/);
    expect(() => makeApproverSet([keys[0]!, keys[0]!, keys[1]!], 2)).toThrow(/strictly ascending/);
  });

  it('refuses a quorum outside 1..k', () => {
    expect(refusal({ keys, quorum: 0 })).toMatch(/quorum/);
    expect(refusal({ keys, quorum: 4 })).toMatch(/quorum 4 exceeds the 3 keys/);
    expect(refusal({ keys, quorum: 1.5 })).toMatch(/quorum/);
  });

  it('refuses an empty set and more than 32 keys', () => {
    expect(refusal({ keys: [], quorum: 1 })).toMatch(/keys/);
    const many = Array.from({ length: 33 }, approverKey).sort();
    expect(refusal({ keys: many, quorum: 1 })).toMatch(/keys/);
  });

  it('refuses keys that are not lowercase hex, not points, or of small order', () => {
    expect(refusal({ keys: [keys[0]!.toUpperCase()], quorum: 1 })).toMatch(/64 lowercase hex/);
    expect(isUsableEd25519PublicKey(notAPoint())).toBe(false);
    expect(refusal({ keys: [notAPoint()], quorum: 1 })).toMatch(/not a usable Ed25519 public key/);
    const identity = '01' + '00'.repeat(31); // the neutral element: signatures under it are forgeable
    expect(isUsableEd25519PublicKey(identity)).toBe(false);
  });

  it('refuses unknown fields', () => {
    expect(refusal({ keys, quorum: 2, extra: true })).toMatch(/extra/);
  });
});

/**
 * The approver set, a party's trust anchor (DESIGN §4 "Trust anchors"): k Ed25519 public keys
 * and the quorum m of them that must sign a plan. Each party pins `approverSetHash(set)` in its
 * HSM token at provisioning (`vault.pinApprovers`), and the same hash is part of every sealed
 * blob's AAD, so the set cannot be swapped by editing configuration.
 *
 * The set has exactly one spelling: keys in lowercase hex, strictly ascending (so sorted and
 * unique), and each key a canonical encoding of an Ed25519 point that is not of small order
 * (a small-order key admits signatures that verify for many messages, and a key that does not
 * decode could never sign, silently lowering k below what the configuration claims).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { z } from 'zod';
import { canonicalHash, ContractError, describeIssues } from './canonical.ts';

/** Domain tag of the approver-set hash. */
export const APPROVER_SET_TAG = 'vilna-mpc/approver-set/v1';

/** Upper bound on k: more approvers than this is a configuration mistake, not a policy. */
export const MAX_APPROVERS = 32;

/** An Ed25519 public key: 32 bytes as 64 lowercase hex characters (RFC 8032 §5.1.5). */
export const ED25519_PUBLIC_KEY_RE = /^[0-9a-f]{64}$/;

/** True when `hex` decodes (strictly, RFC 8032 §5.1.3) to an Ed25519 point of large order. */
export function isUsableEd25519PublicKey(hex: string): boolean {
  if (!ED25519_PUBLIC_KEY_RE.test(hex)) return false;
  try {
    return !ed25519.Point.fromHex(hex, false).isSmallOrder();
  } catch {
    return false;
  }
}

export const Ed25519PublicKeySchema = z
  .string()
  .regex(ED25519_PUBLIC_KEY_RE, 'must be an Ed25519 public key as 64 lowercase hex characters')
  .refine(isUsableEd25519PublicKey, 'is not a usable Ed25519 public key (not a point, or of small order)');

export const ApproverSetSchema = z
  .object({
    keys: z.array(Ed25519PublicKeySchema).min(1).max(MAX_APPROVERS),
    quorum: z.number().int().min(1),
  })
  .strict()
  .superRefine((set, ctx) => {
    for (let i = 1; i < set.keys.length; i++) {
      if (set.keys[i - 1]! >= set.keys[i]!) {
        ctx.addIssue({ code: 'custom', path: ['keys', i], message: 'keys must be strictly ascending (sorted, no duplicates)' });
        break;
      }
    }
    if (set.quorum > set.keys.length) {
      ctx.addIssue({ code: 'custom', path: ['quorum'], message: `quorum ${set.quorum} exceeds the ${set.keys.length} keys` });
    }
  });

export type ApproverSet = z.infer<typeof ApproverSetSchema>;

/** Validates an approver set; throws ContractError E_APPROVER_SET_INVALID naming the field. */
export function parseApproverSet(value: unknown): ApproverSet {
  const r = ApproverSetSchema.safeParse(value);
  if (!r.success) throw new ContractError('E_APPROVER_SET_INVALID', describeIssues(r.error.issues));
  return r.data;
}

/**
 * Builds a set from keys in any order (configuration files list them as people like): sorts
 * them, then validates. Duplicates are refused rather than merged, because a listed duplicate
 * means k is not what its author thought.
 */
export function makeApproverSet(keys: readonly string[], quorum: number): ApproverSet {
  return parseApproverSet({ keys: [...keys].sort(), quorum });
}

/** SHA-256 over the canonical set under APPROVER_SET_TAG: the 32 bytes a party pins. */
export function approverSetHash(set: ApproverSet): Uint8Array {
  return canonicalHash(APPROVER_SET_TAG, parseApproverSet(set));
}

/** True when `approverHex` is one of the set's keys. */
export function isApprover(set: ApproverSet, approverHex: string): boolean {
  return set.keys.includes(approverHex);
}

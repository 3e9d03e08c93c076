/**
 * Trust anchors (DESIGN §4 "Trust anchors"): the approver set named in a party's configuration
 * is pinned in its HSM token at provisioning (first start); on every later start the configured
 * set must hash to exactly what the token pins. Editing a configuration file or a Kubernetes
 * object therefore cannot change who approves plans: a different set stops the party instead.
 *
 * The vault is taken structurally (the real one is sidecar/vault/vault.ts) so the rule can be
 * tested with a fake token.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { approverSetHash, type ApproverSet } from '../../api/index.ts';
import { TrustError } from './errors.ts';

export interface PinnedApprovers {
  readonly sequence: number;
  readonly hash: Uint8Array;
}

/** The part of the vault that holds the approver pin. */
export interface ApproverPinStore {
  pinApprovers(hash: Uint8Array): Promise<PinnedApprovers>;
  approverPin(): Promise<PinnedApprovers | undefined>;
}

export interface TrustAnchors extends PinnedApprovers {
  readonly approvers: ApproverSet;
  /** True when this call created the pin (first start of a provisioned party). */
  readonly pinnedNow: boolean;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function mismatch(configured: Uint8Array, pinned: Uint8Array | undefined, cause?: unknown): TrustError {
  const detail = pinned === undefined ? '' : ` (configured ${bytesToHex(configured).slice(0, 16)}…, pinned ${bytesToHex(pinned).slice(0, 16)}…)`;
  return new TrustError('E_TRUST_ANCHOR_MISMATCH', `the configured approver set is not the one pinned in the HSM token${detail}`, cause === undefined ? {} : { cause });
}

/**
 * Pins `set` when the token pins nothing yet, else checks that the token pins exactly `set`.
 * Throws TrustError E_TRUST_ANCHOR_MISMATCH when it pins another set; vault errors pass through.
 */
export async function pinTrustAnchors(vault: ApproverPinStore, set: ApproverSet): Promise<TrustAnchors> {
  const hash = approverSetHash(set);
  const existing = await vault.approverPin();
  if (existing !== undefined) {
    if (!sameBytes(existing.hash, hash)) throw mismatch(hash, existing.hash);
    return { approvers: set, sequence: existing.sequence, hash: existing.hash, pinnedNow: false };
  }
  let pinned: PinnedApprovers;
  try {
    pinned = await vault.pinApprovers(hash);
  } catch (e) {
    // Another process pinned a different set between our read and our write.
    if ((e as { code?: unknown } | null)?.code === 'E_TRUST_ANCHOR_MISMATCH') throw mismatch(hash, undefined, e);
    throw e;
  }
  if (!sameBytes(pinned.hash, hash)) throw mismatch(hash, pinned.hash);
  return { approvers: set, sequence: pinned.sequence, hash: pinned.hash, pinnedNow: true };
}

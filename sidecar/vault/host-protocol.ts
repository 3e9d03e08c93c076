/**
 * What crosses the boundary between the vault (./vault.ts) and its PKCS#11 host process
 * (./hsm-host.ts), DESIGN §4 "HSM vault": the operations the host runs against the token and the
 * IPC messages (Node's "advanced" serialization, so Uint8Array travels as bytes).
 */
import type { BlobHeader, SealFields } from './blob.ts';

/** The approver set pinned in the token: its hash and how many times it was replaced. */
export interface ApproverPin {
  readonly sequence: number;
  readonly hash: Uint8Array;
}

export interface Unsealed {
  readonly header: BlobHeader;
  readonly plaintext: Uint8Array;
}

/** A sealing key inside the token: its CKA_LABEL and CKA_ID (hex). */
export interface SealingKeyRef {
  readonly label: string;
  readonly id: string;
}

/** The token operations, run synchronously in the host, one at a time. */
export interface HostOps {
  ensureIdentityKey(): Uint8Array;
  signIdentity(digest: Uint8Array): Uint8Array;
  sealingKey(keyId: string, epoch: number): SealingKeyRef;
  countSealingKeys(label: string): number;
  destroySealingKey(label: string): number;
  watermark(keyId: string): number;
  advanceWatermark(keyId: string, epoch: number): void;
  approverPin(): ApproverPin | undefined;
  pinApprovers(hash: Uint8Array): ApproverPin;
  replaceApproverPin(expected: ApproverPin, next: Uint8Array): ApproverPin;
  seal(fields: SealFields, plaintext: Uint8Array): Uint8Array;
  /** The caller has already compared the header with what it expects. */
  unseal(blob: Uint8Array): Unsealed;
  /** The blob sealed again under the pinned approver set (it was under `previous`). */
  reseal(blob: Uint8Array, previous: Uint8Array): Uint8Array;
}

export type OpName = keyof HostOps;

export const OP_NAMES: readonly OpName[] = [
  'ensureIdentityKey', 'signIdentity', 'sealingKey', 'countSealingKeys', 'destroySealingKey', 'watermark', 'advanceWatermark',
  'approverPin', 'pinApprovers', 'replaceApproverPin', 'seal', 'unseal', 'reseal',
];

/** How the host opens the token. The PIN itself never crosses: the host reads pinFile. */
export interface HostOpen {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly pinFile: string;
  readonly maxSessions: number;
}

export interface WireError {
  readonly code: string;
  readonly detail: string;
  readonly ckr?: string;
}

export type ParentMessage =
  | { readonly t: 'open'; readonly open: HostOpen }
  | { readonly t: 'call'; readonly id: number; readonly op: OpName; readonly args: readonly unknown[] }
  | { readonly t: 'close' };

export type HostMessage =
  | { readonly t: 'ready' }
  | { readonly t: 'result'; readonly id: number; readonly value: unknown }
  /** id 0 answers 'open'. */
  | { readonly t: 'error'; readonly id: number; readonly error: WireError };

/**
 * Each signer's own signing policy (DESIGN §4 "Signing API"): allowed derivation paths, rate
 * limits, time windows and required approver signatures over (key, path, digest, requestId,
 * expiry), checked before a partial signature leaves this party. The policy in force is the one
 * from the key's last approved policy plan, else api's default. A denial names its rule.
 */
import {
  defaultPolicy,
  isApprover,
  parsePolicy,
  pathAllowed,
  verifySigningApproval,
  withinRateLimits,
  withinTimeWindow,
  type ApproverSet,
  type Policy,
  type SigningRequest,
} from '../../api/index.ts';
import type { KeyState } from './key-state.ts';
import { EPOCH_TEST_PATH, EPOCH_TEST_PREFIX, epochTestMessage } from './statements.ts';
import { PolicyDenied, type SigningPolicyCheck } from './signing-service.ts';
import type { SignatureRequest } from '../../api/signing.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** Release times kept per key: enough for the largest hourly limit. */
const MAX_RELEASES_KEPT = 100_000;
const HOUR_MS = 3_600_000;


export class PolicyEnforcer implements SigningPolicyCheck {
  #approvers: ApproverSet;
  readonly #now: () => Date;
  readonly #released = new Map<string, number[]>();
  /** Requests charged within the last hour, by (key, requestId, digest, path): each is charged once. */
  readonly #charged = new Map<string, number>();

  constructor(approvers: ApproverSet, now: () => Date = () => new Date()) {
    this.#approvers = approvers;
    this.#now = now;
  }

  /** After an approved change of this party's approvers: signing approvals are checked against the new set. */
  setApprovers(set: ApproverSet): void {
    this.#approvers = set;
  }

  static policyOf(state: KeyState): Policy {
    return state.policy === undefined ? defaultPolicy() : parsePolicy(state.policy);
  }

  check(state: KeyState, req: { derivationPath: string; digest: Uint8Array; requestId: string; approvals: SignatureRequest['approvals']; approvalsExpireAt?: string | undefined; message?: Uint8Array; prehashed?: boolean }): () => void {
    const keyId = state.keyId;
    // The epoch test signature (coordinator, before retiring an epoch) is a fixed, tagged text
    // that no chain accepts as a transaction; it is exempt so a strict policy cannot block rotation.
    if (req.requestId.startsWith(EPOCH_TEST_PREFIX) && state.current && req.message !== undefined && !req.prehashed && req.derivationPath === EPOCH_TEST_PATH
      && Buffer.from(req.message).toString('utf8') === epochTestMessage(keyId, state.current.epoch, state.current.planHash)) {
      return () => undefined;
    }
    // Whatever the policy says: a signature under this path is what lets parties shred an epoch.
    if (req.derivationPath === EPOCH_TEST_PATH) throw new PolicyDenied('path', `path ${EPOCH_TEST_PATH} is reserved for epoch test signatures`);
    const policy = PolicyEnforcer.policyOf(state);
    const now = this.#now();
    if (req.prehashed && policy.allowPrehashed !== true) throw new PolicyDenied('prehashed', `key ${keyId} does not sign bare digests (its policy does not allow it)`);
    if (!pathAllowed(policy, req.derivationPath)) throw new PolicyDenied('path', `path ${req.derivationPath} is not allowed for key ${keyId}`);
    if (!withinTimeWindow(policy, now)) throw new PolicyDenied('time-window', `key ${keyId} signs only inside its time windows (UTC)`);
    if (policy.requiredApprovals) this.#checkApprovals(policy.requiredApprovals.quorum, keyId, req, now);
    // Counted when a partial signature is actually about to leave (the caller calls this then),
    // so requests that fail earlier cannot use up the limit. One request counts once however
    // many times it is released: a failover asks a co-signer that was in both signer sets again
    // (with 3-of-5, say), and a client retries a failed requestId. The same request always signs
    // the same digest under the same path, so nothing more than it can be signed this way.
    const request = `${keyId}\u0000${req.requestId}\u0000${hex(req.digest)}\u0000${req.derivationPath}`;
    const charged = (this.#charged.get(request) ?? -Infinity) > now.getTime() - HOUR_MS;
    if (!charged && !withinRateLimits(policy, this.#released.get(keyId) ?? [], now)) throw new PolicyDenied('rate', `rate limit of key ${keyId} reached`);
    return () => {
      const t = this.#now().getTime();
      for (const [id, at] of this.#charged) {
        if (at > t - HOUR_MS && this.#charged.size <= MAX_RELEASES_KEPT) break;
        this.#charged.delete(id);
      }
      if (this.#charged.has(request)) return;
      this.#charged.set(request, t);
      const kept = (this.#released.get(keyId) ?? []).filter((r) => r > t - HOUR_MS);
      kept.push(t);
      if (kept.length > MAX_RELEASES_KEPT) kept.splice(0, kept.length - MAX_RELEASES_KEPT);
      this.#released.set(keyId, kept);
    };
  }

  #checkApprovals(quorum: number, keyId: string, req: { derivationPath: string; digest: Uint8Array; requestId: string; approvals: SignatureRequest['approvals']; approvalsExpireAt?: string | undefined }, now: Date): void {
    const expiresAt = req.approvalsExpireAt;
    if (!req.approvals?.length || expiresAt === undefined) throw new PolicyDenied('approvals', `key ${keyId} needs ${quorum} approver signature(s)`);
    if (Date.parse(expiresAt) <= now.getTime()) throw new PolicyDenied('approvals', 'the approvals have expired');
    const request: SigningRequest = { keyId, derivationPath: req.derivationPath, messageDigest: hex(req.digest), requestId: req.requestId, expiresAt };
    const valid = new Set<string>();
    for (const a of req.approvals) {
      if (isApprover(this.#approvers, a.approver) && verifySigningApproval(a, request)) valid.add(a.approver);
    }
    if (valid.size < quorum) throw new PolicyDenied('approvals', `${valid.size} valid approver signature(s), ${quorum} needed`);
  }
}

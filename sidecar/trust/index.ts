/** Trust anchors and plan verification (DESIGN §4): the public surface of sidecar/trust. */
export { TrustError, type TrustErrorCode } from './errors.ts';
export { verifyPlan, MAX_APPROVALS, type VerifyPlanContext, type VerifiedPlan, type CurrentKey, type HeldParty } from './verify-plan.ts';
export { pinTrustAnchors, type ApproverPinStore, type PinnedApprovers, type TrustAnchors } from './anchors.ts';
export { verifyApproverChange, type VerifiedApproverChange, type VerifyApproverChangeContext } from './verify-approver-change.ts';

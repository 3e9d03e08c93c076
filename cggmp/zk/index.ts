export { type ProofContext, PROOF_TAG_PREFIX } from './context.ts';
export { type SchProof, type SchCommitment, type SchNonce, commitSch, respondSch, proveSch, verifySch } from './sch.ts';
export { type ElogStatement, type ElogProof, proveElog, verifyElog } from './elog.ts';
export { type EncElgStatement, type EncElgProof, proveEncElg, verifyEncElg } from './enc-elg.ts';
export { type AffGStatement, type AffGProof, type AffGSecret, proveAffG, verifyAffG } from './aff-g.ts';
export { type ModProof, proveMod, verifyMod } from './mod.ts';
export { type PrmProof, provePrm, verifyPrm } from './prm.ts';
export { type FacProof, proveFac, verifyFac } from './fac.ts';

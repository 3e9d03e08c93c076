/** The CGGMP protocols and their channel abstraction (DESIGN §3): the public surface the sidecar uses. */
export { ProtocolAbort, PeerAbortNotice, RoundTimeout, type AbortEvidence, type AbortReason } from './abort.ts';
export {
  ABORT_ROUND,
  BROADCAST,
  envelopeAcceptable,
  envelopeSignatureValid,
  envelopeSigningBytes,
  envelopeValue,
  payloadDigest,
  sealEnvelope,
  type Channel,
  type CollectOptions,
  type Envelope,
  type Msg,
  type PartyIndex,
} from './channel.ts';
export { developmentSigner, verifyIdentitySignature, type Signer } from './identity.ts';
export { openSession, type Session, type SessionParams } from './session.ts';
export { keygen, assertThreshold, type KeygenInput } from './keygen.ts';
export { auxInfo, generateAuxKeys, type AuxKeys, type AuxInfoInput, type AuxInfoOutput } from './aux-info.ts';
export { presign, type Presignature, type PresignBinding, type PresignInput } from './presign.ts';
export { sign, hashMessage, MESSAGE_HASHES, PresignatureError, type EcdsaSignature, type MessageHash, type SignRequest } from './sign.ts';
export { refresh } from './refresh.ts';
export { reshare, reshareParticipants, assertResharePlan, type ResharePlan, type ReshareInput } from './reshare.ts';
export { lagrangeAtZero } from './polynomial.ts';
export { withAux, positionOf, KEY_SHARE_VERSION, type KeyShare, type KeySharePublic, type KeyShareSecret, type AuxPublic } from './key-share.ts';
export { encodeKeySharePublic, encodeKeyShareSecret, decodeKeyShare } from './key-share-codec.ts';
export { verifyAbortEvidence, EVIDENCE_CHECKS, type EvidenceContext } from './evidence.ts';

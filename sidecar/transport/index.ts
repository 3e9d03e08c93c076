/** The party node's peer transport (DESIGN §4 "Peer transport"): the public surface of sidecar/transport. */
export {
  createPeerTransport,
  DEFAULT_BASE_PATH,
  DEFAULT_MAX_BODY_BYTES,
  type PeerTransport,
  type PeerTransportOptions,
  type SessionParty,
  type SessionSpec,
} from './peer-transport.ts';
export { type SessionChannel, type TransportLogger } from './session-channel.ts';
export { createPeerClient, type PeerClient, type PeerClientOptions, type PeerResponse, type RequestOptions } from './client.ts';
export { createPeerBinding, PEER_BINDING_HEADER, peerBindingBytes, spkiSha256, verifyPeerBinding, type BindingProblem, type BindingResult } from './peer-binding.ts';
export { createDevelopmentCa, issueCertificate, peerServerOptions, type CertificateAndKey, type PeerTls } from './certificates.ts';
export { HandshakeTimeout, TransportError, type TransportErrorCode } from './errors.ts';

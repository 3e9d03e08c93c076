export { encode, encodeValue, type Encodable } from './encode.ts';
export { decodeValue, DEFAULT_DECODE_LIMITS, type Decoded, type DecodeLimits } from './decode.ts';
export { challengeStream, type ChallengeStream } from './challenge.ts';

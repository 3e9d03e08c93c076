export { encode, type Encodable } from './encode.ts';
export { challengeStream, type ChallengeStream } from './challenge.ts';

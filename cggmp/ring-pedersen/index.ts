export {
  type RingPedersenParams,
  type RingPedersenSecret,
  ringPedersenParams,
  ringPedersenFromPrimes,
  generateRingPedersen,
  ringPedersenPublic,
} from './params.ts';
export { commitSecret, commitPublic } from './commit.ts';

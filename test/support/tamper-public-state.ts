/**
 * What a network attacker holding a certificate of the peer CA could do to a reshare newcomer
 * (issue 10 item 7): rewrite each dealer's answer to `GET /v1/peer/control/keys/:keyId/public`
 * so that the newcomer starts from a false public state that still looks sound — the public
 * shares of two dealers move so that they still interpolate to the public key over those two
 * (by default the first two holders: the e2e test arranges that they are the dealers). Everything else
 * in the answer, a signature included, is left as it was. Used by test-sidecar.ts.
 */
import { CURVE_ORDER, G, Point } from '../../cggmp/curve/index.ts';
import { lagrangeAtZero } from '../../cggmp/protocols/polynomial.ts';
import type { PeerClient } from '../../sidecar/transport/index.ts';

const PUBLIC_STATE_PATH = /^\/v1\/peer\/control\/keys\/[^/]+\/public(\?|$)/;

const modInverse = (a: bigint): bigint => {
  // Fermat: the curve order is prime.
  let result = 1n;
  let base = ((a % CURVE_ORDER) + CURVE_ORDER) % CURVE_ORDER;
  for (let e = CURVE_ORDER - 2n; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * base) % CURVE_ORDER;
    base = (base * base) % CURVE_ORDER;
  }
  return result;
};

/**
 * X_a + (λ_c/λ_a)·G and X_c − G for two dealers a, c (default: the first two holders): λ_a·X_a +
 * λ_c·X_c is unchanged, so the false state passes the interpolation check over {a, c}.
 */
export function tamperPublicState(body: unknown, dealers?: readonly [number, number]): unknown {
  const b = body as { parties?: unknown; publicShares?: unknown } | null;
  if (!b || !Array.isArray(b.parties) || !Array.isArray(b.publicShares) || b.parties.length < 2) return body;
  const parties = b.parties as number[];
  const [a, c] = dealers ?? [parties[0]!, parties[1]!];
  const shares = [...(b.publicShares as string[])];
  const la = lagrangeAtZero([BigInt(a), BigInt(c)], BigInt(a));
  const lc = lagrangeAtZero([BigInt(a), BigInt(c)], BigInt(c));
  const shift = (lc * modInverse(la)) % CURVE_ORDER;
  const at = (i: number): number => parties.indexOf(i);
  shares[at(a)] = Point.fromHex(shares[at(a)]!).add(G.multiply(shift)).toHex(true);
  shares[at(c)] = Point.fromHex(shares[at(c)]!).subtract(G).toHex(true);
  return { ...b, publicShares: shares };
}

/** The node's peer client with every public-state answer rewritten as above. */
export function tamperingPeerClient(inner: PeerClient): PeerClient {
  return {
    async request(endpoint, path, body, opts) {
      const res = await inner.request(endpoint, path, body, opts);
      return PUBLIC_STATE_PATH.test(path) && res.status === 200 ? { ...res, body: tamperPublicState(res.body) } : res;
    },
    close: () => inner.close(),
  };
}

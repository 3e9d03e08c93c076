/**
 * The test-only entry point of a party node (DESIGN §7: corruption and crashes are injected by
 * the test harness, never by a switch in the production binary). Same arguments as
 * `vilna-mpc sidecar`, plus, from the environment:
 *   VILNA_TEST_CRASH_AT=<checkpoint>   SIGKILL this process when the node reaches that checkpoint
 *   VILNA_TEST_STOP_AT=<checkpoint>    SIGSTOP it there instead: it keeps its connections open and
 *                                      answers nothing (a hung node), until continued or killed
 *   VILNA_TEST_CORRUPT=<behaviour>     deviate as cggmp/sim's named behaviour in its protocol
 *   VILNA_TEST_PRIME_OFFSET=<n>        the sealed prime pool "generates" the committed fixture
 *                                      primes from index n on, instead of real safe primes
 *   VILNA_TEST_TAMPER_PUBLIC_STATE=1   a network attacker rewrites the reshare public-state answers
 *                                      this node receives (tamper-public-state.ts)
 * Used by the e2e tests and, through LocalCluster's `entry`, by the operator's tests.
 */
import { runSidecar } from '../../cli/sidecar.ts';
import { adversarialChannel } from '../../cggmp/sim/adversary.ts';
import { BEHAVIOURS } from '../../cggmp/sim/behaviours.ts';
import { corruptSession } from '../../cggmp/sim/adversary.ts';
import type { MemoryNetwork } from '../../cggmp/sim/memory-network.ts';
import { protocols } from '../../cggmp/index.ts';
import type { Encodable } from '../../cggmp/transcript/index.ts';
import type { NodeTestHooks } from '../../sidecar/node.ts';
import { fixturePrimes } from './keys.ts';
import { tamperingPeerClient } from './tamper-public-state.ts';

const argv = process.argv.slice(2);
const at = (flag: string): string | undefined => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};
const config = at('--config');
if (argv[0] !== 'sidecar' || config === undefined) {
  process.stderr.write('usage: test-sidecar.ts sidecar --config FILE [--ready-file FILE]\n');
  process.exit(2);
}

const crashAt = process.env.VILNA_TEST_CRASH_AT;
const stopAt = process.env.VILNA_TEST_STOP_AT;
const corruptName = process.env.VILNA_TEST_CORRUPT;
const corruption = corruptName ? BEHAVIOURS[corruptName] : undefined;
if (corruptName && !corruption) {
  process.stderr.write(`unknown behaviour ${corruptName}\n`);
  process.exit(2);
}
const memory = new Map<string, Encodable>();
const primeOffset = process.env.VILNA_TEST_PRIME_OFFSET;
let primesGenerated = 0;
const fixturePrime = (bits: number): Promise<bigint> => {
  const p = fixturePrimes(bits)[Number(primeOffset) + primesGenerated++];
  return p === undefined ? Promise.reject(new Error(`fixture ${bits}-bit primes exhausted`)) : Promise.resolve(p);
};
// The online signing round continues the presign session (cggmp/protocols/sign.ts), so a
// behaviour of the sign round wraps that session; it only acts on the sign round's messages.
const sessionProtocol = corruption?.protocol === 'sign' ? 'presign' : corruption?.protocol;

const hooks: NodeTestHooks = {
  ...(primeOffset ? { generatePrime: fixturePrime } : {}),
  ...(process.env.VILNA_TEST_TAMPER_PUBLIC_STATE === '1' ? { wrapPeerClient: tamperingPeerClient } : {}),
  ...(crashAt || stopAt
    ? {
        checkpoint: (name: string) => {
          if (name === crashAt) process.kill(process.pid, 'SIGKILL');
          if (name === stopAt) process.kill(process.pid, 'SIGSTOP');
        },
      }
    : {}),
  ...(corruption?.channel
    ? {
        wrapChannel: async ({ protocol, sid, self, parties, channel, signer }) => {
          if (protocol !== sessionProtocol) return channel;
          const behaviour = await corruption.channel!(sid, { party: self, signer, memory });
          // Over HTTP a re-signed broadcast goes to every peer once; point-to-point to its recipient.
          const sentBroadcast = new Set<number>();
          const net = {
            deliver(to: number, e: protocols.Envelope) {
              if (e.recipient !== protocols.BROADCAST) return channel.send(e.round, to, e);
              if (sentBroadcast.has(e.round)) return;
              sentBroadcast.add(e.round);
              channel.broadcast(e.round, e);
            },
          } as unknown as MemoryNetwork;
          return adversarialChannel({ self, parties, signer, sid, inner: channel, net, behaviour });
        },
      }
    : {}),
  ...(corruption?.session
    ? {
        wrapSession: (protocol: string, sid: Uint8Array, session: protocols.Session) =>
          protocol === sessionProtocol ? corruptSession(session, corruption.session!(sid, { party: session.params.self })) : session,
      }
    : {}),
};

const readyFile = at('--ready-file');
await runSidecar({ config, ...(readyFile ? { readyFile } : {}) }, hooks);

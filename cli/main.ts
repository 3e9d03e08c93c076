/**
 * The `vilna-mpc` command (DESIGN §8). Subcommands arrive with the layers they drive.
 */
import { Command, InvalidArgumentError } from 'commander';
import { registerApprove } from './approve.ts';
import { registerAudit } from './audit.ts';

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('not an integer');
  return n;
};

const program = new Command('vilna-mpc').description('threshold-ECDSA custody on CGGMP').showHelpAfterError();

program
  .command('simulate')
  .description('the whole key life cycle in one process over the in-memory channel (128-bit level)')
  .requiredOption('--parties <n>', 'number of parties', int)
  .requiredOption('--threshold <t>', 'signers needed', int)
  .option('--corrupt <party:behaviour>', 'one party deviates (e.g. 2:sch); exits non-zero with the culprits')
  .option('--primes <file>', 'precomputed safe primes (JSON as npm run fixtures writes), each used once')
  .option('--json', 'the report as one JSON object on the last line of stdout')
  .action(async (opts: { parties: number; threshold: number; corrupt?: string; primes?: string; json?: boolean }) => {
    const { runSimulate } = await import('./simulate.ts');
    process.exitCode = await runSimulate(opts);
  });

program
  .command('sidecar')
  .description('run one party node (YAML configuration, VILNA_* environment overrides)')
  .requiredOption('--config <file>', 'configuration file (YAML)')
  .option('--ready-file <file>', 'write the node\'s identity key and URLs here once it listens')
  .action(async (opts: { config: string; readyFile?: string }) => {
    const { runSidecar } = await import('./sidecar.ts');
    try {
      await runSidecar(opts);
    } catch (e) {
      process.stderr.write(`vilna-mpc sidecar: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  });

program
  .command('demo')
  .description('a local ceremony: party nodes as separate processes, each with its own SoftHSM token')
  .option('--parties <n>', 'number of parties', int, 3)
  .option('--threshold <t>', 'signers needed', int, 2)
  .option('--state-dir <dir>', 'where the parties keep their tokens, blobs and audit logs (default: a new temporary directory)')
  .option('--primes <file>', 'development only: precomputed safe primes instead of fresh ones (faster, never for real keys)')
  .option('--json', 'the report as one JSON object on the last line of stdout')
  .action(async (opts: { parties: number; threshold: number; stateDir?: string; primes?: string; json?: boolean }) => {
    const { runDemo } = await import('./demo.ts');
    process.exitCode = await runDemo(opts);
  });

program
  .command('operator')
  .description('one operator replica: leader election, then the controllers (DESIGN §5)')
  .option('--kubeconfig <file>', 'kubeconfig to use (default: in-cluster service account, then $KUBECONFIG)')
  .option('--namespace <ns>', "the operator's namespace (its Lease, other clusters' kubeconfig Secrets)", process.env.POD_NAMESPACE ?? 'vilna-system')
  .option('--identity <id>', 'this replica in leader election (default: host name and a random suffix)')
  .option('--image <image>', 'image of the party pods whose MpcParty names none')
  .option('--metrics-listen <host:port>', 'plain-HTTP /metrics and /healthz', '0.0.0.0:9090')
  .option('--lease-duration-ms <ms>', 'leader lease duration', int, 15_000)
  .option('--peer-tls-dir <dir>', "ca.crt, tls.crt, tls.key: the operator's client certificate from the parties' CA (needed to drive ceremonies)")
  .action(async (opts: { kubeconfig?: string; namespace: string; identity?: string; image?: string; metricsListen: string; leaseDurationMs: number; peerTlsDir?: string }) => {
    const { runOperator } = await import('./operator.ts');
    try {
      await runOperator(opts);
    } catch (e) {
      process.stderr.write(`vilna-mpc operator: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  });

registerApprove(program);
registerAudit(program);

program
  .command('bench')
  .description('benchmarks (one JSON object per line with --json)')
  .option('--json', 'JSON lines')
  .option('--filter <op>', 'only rows whose op contains this')
  .action(async (opts: { json?: boolean; filter?: string }) => {
    process.argv = [process.argv[0] ?? 'node', 'bench', ...(opts.json ? ['--json'] : []), ...(opts.filter ? ['--filter', opts.filter] : [])];
    await import('../bench/run.ts');
  });

await program.parseAsync(process.argv);

/**
 * The `vilna-mpc` command. Subcommands arrive with the layers they drive (DESIGN §8); this
 * first layer offers the benchmarks of the protocol library.
 */
const [command, ...rest] = process.argv.slice(2);

const usage = `usage: vilna-mpc <command>

commands:
  bench [--json] [--filter OP]   benchmark the arithmetic, Paillier and the zero-knowledge proofs
`;

switch (command) {
  case 'bench': {
    process.argv = [process.argv[0] ?? 'node', 'bench', ...rest];
    await import('../bench/run.ts');
    break;
  }
  case undefined:
  case '--help':
  case '-h':
    process.stdout.write(usage);
    break;
  default:
    process.stderr.write(`vilna-mpc: unknown command "${command}"\n${usage}`);
    process.exitCode = 2;
}

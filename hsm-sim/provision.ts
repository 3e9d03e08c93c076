/**
 * SoftHSM token provisioning for one party (DESIGN §4 "HSM vault", §6 integration layer).
 *
 * Layout under the party's state directory:
 *   <stateDir>/hsm/softhsm2.conf   SoftHSM configuration naming the token directory below
 *   <stateDir>/hsm/tokens/          the token files (SoftHSM's own object store)
 *   <stateDir>/hsm/user.pin         user PIN (0600), created from node:crypto randomness
 *   <stateDir>/hsm/so.pin           security-officer PIN (0600)
 *
 * Idempotent: PIN files and configuration are kept when present, and the token is initialised
 * only when no token with the label exists yet. Development and tests only: production code never
 * imports `hsm-sim/` (DESIGN §2).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Where Debian (and derivatives) install the SoftHSM PKCS#11 module. */
export const SOFTHSM_MODULE_PATHS: readonly string[] = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

/** PIN length in random bytes; hex-encoded, so 32 characters (SoftHSM accepts 4..255). */
const PIN_BYTES = 16;

export interface ProvisionOptions {
  /** The party's state directory; the token lives under `<stateDir>/hsm`. */
  readonly stateDir: string;
  /** Token label, the only stable way to find the token (slot ids change after init). */
  readonly label: string;
  /** The softhsm2-util binary; found on PATH by default. */
  readonly softhsmUtil?: string;
}

export interface ProvisionedToken {
  /** SoftHSM configuration file: set SOFTHSM2_CONF to it before loading the module. */
  readonly conf: string;
  readonly label: string;
  /** File holding the user PIN (mode 0600). */
  readonly pinFile: string;
  /** The SoftHSM PKCS#11 module. */
  readonly modulePath: string;
  /** The token directory (for tests that inspect what is stored). */
  readonly tokenDir: string;
}

export class ProvisionError extends Error {
  readonly code = 'E_HSM_PROVISION';
  override readonly name = 'ProvisionError';
}

/** The SoftHSM module on this machine, or a ProvisionError naming the package to install. */
export function findSoftHsmModule(): string {
  const found = SOFTHSM_MODULE_PATHS.find((p) => existsSync(p));
  if (found === undefined) {
    throw new ProvisionError('libsofthsm2.so not found; install SoftHSM: apt-get install -y softhsm2');
  }
  return found;
}

/** Creates a token for one party, or returns the existing one. */
export async function provisionToken(opts: ProvisionOptions): Promise<ProvisionedToken> {
  if (!/^[\w.-]{1,32}$/.test(opts.label)) {
    throw new ProvisionError('token label must be 1..32 characters of [A-Za-z0-9_.-]');
  }
  const modulePath = findSoftHsmModule();
  const util = opts.softhsmUtil ?? 'softhsm2-util';
  const hsmDir = path.resolve(opts.stateDir, 'hsm');
  const tokenDir = path.join(hsmDir, 'tokens');
  const conf = path.join(hsmDir, 'softhsm2.conf');
  const pinFile = path.join(hsmDir, 'user.pin');
  const soPinFile = path.join(hsmDir, 'so.pin');

  await mkdir(tokenDir, { recursive: true, mode: 0o700 });
  await chmod(hsmDir, 0o700);
  await chmod(tokenDir, 0o700);
  if (!existsSync(conf)) {
    const text = [
      '# written by vilna-mpc hsm-sim/provision.ts',
      `directories.tokendir = ${tokenDir}`,
      'objectstore.backend = file',
      'log.level = ERROR',
      'slots.removable = false',
      '',
    ].join('\n');
    await writeFile(conf, text, { mode: 0o600 });
  }
  await chmod(conf, 0o600); // explicitly: the umask may have taken bits from the mode above
  const pin = await ensurePinFile(pinFile);
  const soPin = await ensurePinFile(soPinFile);

  const env = { ...process.env, SOFTHSM2_CONF: conf };
  if (!(await tokenExists(util, env, opts.label))) {
    // softhsm2-util reads PINs only from its arguments or a terminal, so they are passed as
    // arguments to this short-lived process; SoftHSM is a development stand-in (DESIGN §4).
    await runUtil(util, ['--init-token', '--free', '--label', opts.label, '--so-pin', soPin, '--pin', pin], env);
    if (!(await tokenExists(util, env, opts.label))) {
      throw new ProvisionError(`token "${opts.label}" was not found after initialisation`);
    }
  }
  return { conf, label: opts.label, pinFile, modulePath, tokenDir };
}

/** Reads a PIN file, creating it with a fresh random PIN when absent. */
async function ensurePinFile(file: string): Promise<string> {
  if (!existsSync(file)) {
    try {
      await writeFile(file, `${randomBytes(PIN_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  await chmod(file, 0o600);
  const pin = (await readFile(file, 'utf8')).trim();
  if (pin.length < 4) throw new ProvisionError(`PIN file ${file} holds no usable PIN`);
  return pin;
}

async function tokenExists(util: string, env: NodeJS.ProcessEnv, label: string): Promise<boolean> {
  const { stdout } = await runUtil(util, ['--show-slots'], env);
  return stdout.split('\n').some((line) => {
    const m = /^\s*Label:\s*(.*?)\s*$/.exec(line);
    return m !== null && m[1] === label;
  });
}

async function runUtil(util: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string }> {
  try {
    const { stdout } = await execFileAsync(util, args, { env, encoding: 'utf8' });
    return { stdout };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (err.code === 'ENOENT') {
      throw new ProvisionError(`${util} not found; install SoftHSM: apt-get install -y softhsm2`);
    }
    // Name the command only: its arguments may hold PINs.
    const detail = `${err.stderr ?? ''}${err.stdout ?? ''}`.split('\n').find((l) => l.includes('ERROR')) ?? 'failed';
    throw new ProvisionError(`${util} ${args[0] ?? ''}: ${detail.trim()}`);
  }
}

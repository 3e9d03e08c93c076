/**
 * The vault's side of its PKCS#11 host process (./hsm-host.ts), DESIGN §4 "HSM vault": starts
 * the process, sends it operations, holds each call to its deadline, and replaces the process
 * when it stops answering or dies. When a call misses its deadline the process is killed (it may
 * be blocked inside the module and cannot be interrupted otherwise); every other call waiting on
 * it fails with E_HSM_UNAVAILABLE, and the next call starts a fresh process.
 *
 * The child process and its IPC channel are unref'd, so an open vault does not keep Node alive
 * on its own; a pending call does, through its deadline timer.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VAULT_ERROR_CODES, VaultError, type VaultErrorCode } from './errors.ts';
import type { HostMessage, HostOpen, HostOps, OpName, ParentMessage, WireError } from './host-protocol.ts';

const HOST_ENTRY = fileURLToPath(new URL('./hsm-host.ts', import.meta.url));
/** How long close() lets the host log out and finalize before killing it. */
const CLOSE_GRACE_MS = 2000;
/** Calls due within this many ms of a host replacement count as timed out themselves (timer jitter). */
const DEADLINE_SLACK_MS = 25;
/** Node flags the host needs from its parent: type stripping on Node versions that still gate it. */
const INHERITED_FLAGS: ReadonlySet<string> = new Set(['--experimental-strip-types']);

/** When a vault operation must be answered by: `budgetMs` is what the caller granted, for messages. */
export interface Deadline {
  readonly at: number;
  readonly budgetMs: number;
}

export interface HostSpec extends HostOpen {
  /** Extra environment for the host process (module configuration such as SOFTHSM2_CONF). */
  readonly env?: Readonly<Record<string, string>>;
}

interface Pending {
  readonly child: ChildProcess;
  readonly deadline: Deadline;
  readonly resolve: (value: unknown) => void;
  readonly reject: (e: VaultError) => void;
  readonly timer: NodeJS.Timeout;
}

export function deadlineIn(budgetMs: number): Deadline {
  return { at: Date.now() + budgetMs, budgetMs };
}

export function timeoutError(deadline: Deadline): VaultError {
  return new VaultError('E_HSM_UNAVAILABLE', `HSM did not answer within ${deadline.budgetMs} ms`);
}

function fromWire(e: WireError): VaultError {
  const code: VaultErrorCode = VAULT_ERROR_CODES.has(e.code) ? (e.code as VaultErrorCode) : 'E_HSM_ERROR';
  return new VaultError(code, e.detail, e.ckr === undefined ? {} : { ckr: e.ckr });
}

/** Checks the shape of a message from the host; anything else is dropped. */
function parseHostMessage(raw: unknown): HostMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  if (m.t === 'ready') return { t: 'ready' };
  if (m.t === 'result' && Number.isSafeInteger(m.id)) return { t: 'result', id: m.id as number, value: m.value };
  if (m.t === 'error' && Number.isSafeInteger(m.id) && typeof m.error === 'object' && m.error !== null) {
    const e = m.error as Record<string, unknown>;
    if (typeof e.code !== 'string' || typeof e.detail !== 'string' || (e.ckr !== undefined && typeof e.ckr !== 'string')) return undefined;
    return { t: 'error', id: m.id as number, error: e.ckr === undefined ? { code: e.code, detail: e.detail } : { code: e.code, detail: e.detail, ckr: e.ckr as string } };
  }
  return undefined;
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

export class HsmHost {
  readonly #spec: HostSpec;
  readonly #pending = new Map<number, Pending>();
  #child: ChildProcess | undefined;
  #ready: Promise<ChildProcess> | undefined;
  #nextId = 1;
  #closed = false;

  constructor(spec: HostSpec) {
    this.#spec = spec;
  }

  /** Starts the host (module loaded, logged in) unless it is running. */
  async start(deadline: Deadline): Promise<void> {
    await this.#started(deadline);
  }

  /** Runs op in the host; E_HSM_UNAVAILABLE when no answer comes by the deadline. */
  async call<K extends OpName>(op: K, args: Parameters<HostOps[K]>, deadline: Deadline): Promise<ReturnType<HostOps[K]>> {
    const child = await this.#started(deadline);
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(timeoutError(deadline));
        this.#abandon(child, 'the HSM host was replaced after an operation got no answer in time');
      }, Math.max(0, deadline.at - Date.now()));
      this.#pending.set(id, { child, deadline, resolve: resolve as (value: unknown) => void, reject, timer });
      const msg: ParentMessage = { t: 'call', id, op, args };
      child.send(msg, (e) => {
        if (e !== null) this.#abandon(child, 'the HSM host stopped taking requests');
      });
    });
  }

  /** Stops the host: it logs out and finalizes the module, or is killed after a grace period. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const child = this.#child;
    this.#child = undefined;
    this.#ready = undefined;
    this.#failPending(undefined, 'the vault is closed');
    if (child === undefined || !running(child)) return;
    child.ref();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_GRACE_MS);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      const msg: ParentMessage = { t: 'close' };
      child.send(msg, (e) => {
        if (e !== null) child.kill('SIGKILL');
      });
    });
  }

  async #started(deadline: Deadline): Promise<ChildProcess> {
    if (this.#closed) throw new VaultError('E_HSM_UNAVAILABLE', 'the vault is closed');
    this.#ready ??= this.#spawn();
    const ready = this.#ready;
    const child = this.#child;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(timeoutError(deadline));
        if (child !== undefined) this.#abandon(child, 'the HSM host did not start in time');
      }, Math.max(0, deadline.at - Date.now()));
    });
    try {
      return await Promise.race([ready, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  #spawn(): Promise<ChildProcess> {
    const { env, ...open } = this.#spec;
    const child = fork(HOST_ENTRY, [], {
      execArgv: process.execArgv.filter((a) => INHERITED_FLAGS.has(a)),
      env: { ...process.env, ...env },
      // The host's stdout is not ours to use (the CLI's JSON report is the last stdout line).
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.#child = child;
    child.unref();
    child.channel?.unref();
    const ready = new Promise<ChildProcess>((resolve, reject) => {
      child.on('message', (raw: unknown) => {
        const msg = parseHostMessage(raw);
        if (msg === undefined) return;
        if (msg.t === 'ready') resolve(child);
        else if (msg.t === 'error' && msg.id === 0) {
          reject(fromWire(msg.error));
          this.#abandon(child, 'the HSM host could not open the token');
        } else this.#settle(msg);
      });
      child.once('exit', (code, signal) => {
        const how = signal ?? `code ${code}`;
        reject(new VaultError('E_HSM_UNAVAILABLE', `the HSM host exited before it was ready (${how})`));
        this.#abandon(child, `the HSM host exited (${how})`);
      });
      child.on('error', (e) => {
        reject(new VaultError('E_HSM_UNAVAILABLE', `the HSM host could not be started: ${e.message}`));
        this.#abandon(child, 'the HSM host failed');
      });
    });
    // Whoever started it may have given up already (deadline); the failure is reported per call.
    ready.catch(() => undefined);
    const msg: ParentMessage = { t: 'open', open };
    child.send(msg, (e) => {
      if (e !== null) this.#abandon(child, 'the HSM host stopped taking requests');
    });
    return ready;
  }

  #settle(msg: HostMessage): void {
    if (msg.t === 'ready') return;
    const p = this.#pending.get(msg.id);
    if (p === undefined) return; // answered after its deadline: the caller has its error already
    this.#pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.t === 'result') p.resolve(msg.value);
    else p.reject(fromWire(msg.error));
  }

  /** Forgets child (killing it if it still runs) and fails the calls waiting on it. */
  #abandon(child: ChildProcess, reason: string): void {
    if (this.#child === child) {
      this.#child = undefined;
      this.#ready = undefined;
    }
    this.#failPending(child, reason);
    if (running(child)) child.kill('SIGKILL');
  }

  #failPending(child: ChildProcess | undefined, reason: string): void {
    for (const [id, p] of this.#pending) {
      if (child !== undefined && p.child !== child) continue;
      this.#pending.delete(id);
      clearTimeout(p.timer);
      // A call whose own deadline has come too waited on the same silent HSM: say so.
      p.reject(Date.now() >= p.deadline.at - DEADLINE_SLACK_MS ? timeoutError(p.deadline) : new VaultError('E_HSM_UNAVAILABLE', reason));
    }
  }
}

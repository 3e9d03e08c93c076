/**
 * The vault's PKCS#11 host process (DESIGN §4 "HSM vault"): loads the module, logs in, and runs
 * the token operations (./token-ops.ts) that ./vault.ts sends over IPC, one at a time.
 *
 * Why a process: PKCS#11 calls are synchronous and may block for as long as the device likes,
 * so they must not run on the node's event loop; and a call that never returns cannot be
 * abandoned inside a process, because C_Initialize/C_Finalize are process-wide and finalizing
 * under a blocked call is undefined (PKCS#11 v2.40 §5.4). A process can be killed and replaced,
 * and the OS then closes its sessions. (pkcs11js's own thread-pool variants also crashed SoftHSM
 * 2.6.1 after a failed C_Decrypt.)
 *
 * Started by ./host-client.ts with fork(); never imported.
 */
import { readFileSync } from 'node:fs';
import graphene from 'graphene-pk11';
import type { Module, Slot } from 'graphene-pk11';
import { toVaultError, VaultError } from './errors.ts';
import { OP_NAMES, type HostMessage, type HostOpen, type HostOps, type OpName, type ParentMessage, type WireError } from './host-protocol.ts';
import { SessionPool } from './session-pool.ts';
import { TokenOps } from './token-ops.ts';

let mod: Module | undefined;
let pool: SessionPool | undefined;
let ops: TokenOps | undefined;

function send(msg: HostMessage, then?: () => void): void {
  try {
    process.send?.(msg, undefined, undefined, then);
  } catch {
    // the vault went away; 'disconnect' ends this process
    then?.();
  }
}

function wire(e: unknown): WireError {
  const err = e instanceof VaultError ? e : toVaultError(e, 'HSM host', 'E_HSM_ERROR');
  return err.ckr === undefined ? { code: err.code, detail: err.detail } : { code: err.code, detail: err.detail, ckr: err.ckr };
}

function findSlot(m: Module, label: string): Slot {
  let slots;
  try {
    slots = m.getSlots(true);
  } catch (e) {
    throw toVaultError(e, 'listing slots', 'E_HSM_UNAVAILABLE');
  }
  for (let i = 0; i < slots.length; i++) {
    const slot = slots.items(i);
    let tokenLabel: string;
    try {
      tokenLabel = slot.getToken().label.trim();
    } catch (e) {
      throw toVaultError(e, 'reading token information', 'E_HSM_UNAVAILABLE');
    }
    if (tokenLabel === label) return slot;
  }
  throw new VaultError('E_HSM_TOKEN', `no token labelled "${label}"`);
}

function open(spec: HostOpen): void {
  const readPin = (): string => {
    try {
      return readFileSync(spec.pinFile, 'utf8').trim();
    } catch {
      throw new VaultError('E_HSM_PIN', `PIN file ${spec.pinFile} cannot be read`);
    }
  };
  readPin(); // an unreadable PIN file is reported before the module is touched
  try {
    mod = graphene.Module.load(spec.modulePath, 'pkcs11');
    mod.initialize();
  } catch (e) {
    mod = undefined;
    throw toVaultError(e, `loading PKCS#11 module ${spec.modulePath}`, 'E_HSM_UNAVAILABLE');
  }
  pool = new SessionPool(findSlot(mod, spec.tokenLabel), spec.maxSessions, readPin);
  pool.login();
  ops = new TokenOps(pool);
}

function call(id: number, op: OpName, args: readonly unknown[]): void {
  if (ops === undefined) return send({ t: 'error', id, error: { code: 'E_HSM_UNAVAILABLE', detail: 'the token is not open' } });
  let value: unknown;
  try {
    value = Reflect.apply(ops[op] as (...a: unknown[]) => unknown, ops, args);
  } catch (e) {
    return send({ t: 'error', id, error: wire(e) });
  } finally {
    // The plaintext handed in for sealing is not needed any more (serialisation copied it here).
    if (op === 'seal' && args[1] instanceof Uint8Array) args[1].fill(0);
  }
  send({ t: 'result', id, value });
  // process.send serialises synchronously, so the plaintext can be wiped now.
  if (op === 'unseal') (value as ReturnType<HostOps['unseal']>).plaintext.fill(0);
}

function shutdown(code: number): never {
  try {
    pool?.close();
    mod?.finalize();
  } catch {
    // leaving anyway
  }
  process.exit(code);
}

process.on('message', (raw: unknown) => {
  const msg = raw as ParentMessage;
  if (typeof msg !== 'object' || msg === null) return;
  if (msg.t === 'open') {
    try {
      open(msg.open);
      send({ t: 'ready' });
    } catch (e) {
      // Exit once the answer is out: exiting at once could drop it.
      send({ t: 'error', id: 0, error: wire(e) }, () => shutdown(1));
    }
  } else if (msg.t === 'call') {
    if (!Number.isSafeInteger(msg.id) || !OP_NAMES.includes(msg.op) || !Array.isArray(msg.args)) return;
    call(msg.id, msg.op, msg.args);
  } else if (msg.t === 'close') {
    shutdown(0);
  }
});
process.on('disconnect', () => shutdown(0));

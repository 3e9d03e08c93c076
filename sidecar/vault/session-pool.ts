/**
 * The PKCS#11 sessions of the vault's host process (DESIGN §4: one operation per session at a
 * time). PKCS#11 login state is shared by every session of the application on a token and ends
 * when the last of them closes (PKCS#11 v2.40 §5.6.7), so one anchor session logs in and stays
 * open, idle, until the pool closes.
 *
 * Recovery: a working session that failed inside the module is closed rather than reused (a
 * failed find or decrypt can leave an operation active in it). After a device-level failure the
 * pool checks, before the next operation, that the anchor is still logged in (C_GetSessionInfo);
 * when it is not (token removed and back, sessions closed under us) it closes every session of
 * the slot and logs in again with the PIN read afresh from its file.
 *
 * Runs inside ./hsm-host.ts, where operations are synchronous and one at a time.
 */
import type { Session, Slot } from 'graphene-pk11';
import { ckrOf, isModuleError, isUnavailable, toVaultError, VaultError } from './errors.ts';

/** graphene's SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION (PKCS#11 CKF_* values). */
const RW_SERIAL_SESSION = 0x4 | 0x2;
/** CKS_RO_USER_FUNCTIONS and CKS_RW_USER_FUNCTIONS (PKCS#11 v2.40 §5.6.1): logged in as user. */
const USER_STATES: ReadonlySet<number> = new Set([1, 3]);

export class SessionPool {
  readonly #slot: Slot;
  readonly #maxIdle: number;
  readonly #readPin: () => string;
  readonly #idle: Session[] = [];
  #anchor: Session | undefined;
  /** Set after a device-level failure: the anchor's login is checked before the next use. */
  #suspect = false;
  #closed = false;

  /** `readPin` is called for every login, so a PIN is held only while logging in. */
  constructor(slot: Slot, maxIdle: number, readPin: () => string) {
    this.#slot = slot;
    this.#maxIdle = maxIdle;
    this.#readPin = readPin;
  }

  /** Opens the anchor session and logs in: E_HSM_PIN on a refused PIN. */
  login(): void {
    const anchor = this.#openSession();
    try {
      const pin = this.#readPin();
      try {
        anchor.login(pin);
      } catch (e) {
        // Another session of this process kept the login alive: that is the state we want.
        if (ckrOf(e) !== 'CKR_USER_ALREADY_LOGGED_IN') throw toVaultError(e, 'login');
      }
    } catch (e) {
      closeQuietly(anchor);
      throw e;
    }
    this.#anchor = anchor;
    this.#suspect = false;
  }

  /** Runs fn on a session of its own; the session goes back to the pool when fn did not fail inside the module. */
  use<T>(fn: (s: Session) => T): T {
    if (this.#closed) throw new VaultError('E_HSM_UNAVAILABLE', 'the vault is closed');
    this.#ensureLoggedIn();
    const s = this.#idle.pop() ?? this.#openSession();
    let result: T;
    try {
      result = fn(s);
    } catch (e) {
      if (isModuleError(e)) closeQuietly(s);
      else this.#release(s);
      if (isUnavailable(e)) this.#suspect = true;
      throw e;
    }
    this.#release(s);
    return result;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#idle.splice(0)) closeQuietly(s);
    if (this.#anchor !== undefined) {
      try {
        this.#anchor.logout();
      } catch {
        // the token is gone or already logged out
      }
      closeQuietly(this.#anchor);
      this.#anchor = undefined;
    }
  }

  #ensureLoggedIn(): void {
    if (this.#anchor !== undefined && !this.#suspect) return;
    if (this.#anchor !== undefined && anchorLoggedIn(this.#anchor)) {
      this.#suspect = false;
      return;
    }
    // Start from nothing: C_CloseAllSessions drops handles the token may have forgotten anyway.
    this.#idle.length = 0;
    this.#anchor = undefined;
    try {
      this.#slot.closeAll();
    } catch {
      // the token is gone: opening a session below reports it
    }
    this.login();
  }

  #openSession(): Session {
    try {
      return this.#slot.open(RW_SERIAL_SESSION);
    } catch (e) {
      throw toVaultError(e, 'opening a session', 'E_HSM_UNAVAILABLE');
    }
  }

  #release(s: Session): void {
    if (this.#closed || this.#idle.length >= this.#maxIdle) closeQuietly(s);
    else this.#idle.push(s);
  }
}

function anchorLoggedIn(anchor: Session): boolean {
  try {
    return USER_STATES.has(anchor.lib.C_GetSessionInfo(anchor.handle).state);
  } catch {
    return false;
  }
}

function closeQuietly(s: Session): void {
  try {
    s.close();
  } catch {
    // the session is already gone with the device
  }
}

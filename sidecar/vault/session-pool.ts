/**
 * A small pool of PKCS#11 sessions on one token (DESIGN §4: one operation per session at a time).
 * PKCS#11 login state is shared by every session of the application on a token and ends when the
 * last of them closes (PKCS#11 v2.40 §5.6.7), so one anchor session logs in and stays open, idle,
 * until the pool closes. A working session that failed with a session or device error is closed
 * instead of being returned.
 */
import type { Session, Slot } from 'graphene-pk11';
import { isUnavailable, toVaultError } from './errors.ts';

/** graphene's SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION (PKCS#11 CKF_* values). */
const RW_SERIAL_SESSION = 0x4 | 0x2;

export class SessionPool {
  readonly #slot: Slot;
  readonly #max: number;
  readonly #idle: Session[] = [];
  readonly #waiters: ((s: Session) => void)[] = [];
  #anchor: Session | undefined;
  #open = 0;
  #closed = false;

  constructor(slot: Slot, max: number) {
    this.#slot = slot;
    this.#max = max;
  }

  /** Opens the first session and logs in; throws E_HSM_PIN on a wrong PIN. */
  login(pin: string): void {
    let anchor: Session;
    try {
      anchor = this.#slot.open(RW_SERIAL_SESSION);
    } catch (e) {
      throw toVaultError(e, 'open session', 'E_HSM_UNAVAILABLE');
    }
    try {
      anchor.login(pin);
    } catch (e) {
      anchor.close();
      throw toVaultError(e, 'login');
    }
    this.#anchor = anchor;
  }

  /** Runs fn on a session of its own; the session goes back to the pool afterwards. */
  async use<T>(fn: (s: Session) => T | Promise<T>): Promise<T> {
    const s = await this.#acquire();
    let healthy = true;
    try {
      return await fn(s);
    } catch (e) {
      healthy = !isUnavailable(e);
      throw e;
    } finally {
      if (healthy) this.#release(s);
      else this.#discard(s);
    }
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#idle.splice(0)) this.#discard(s);
    try {
      this.#anchor?.logout();
    } catch {
      // the token is gone or already logged out
    }
    this.#anchor?.close();
    this.#anchor = undefined;
  }

  #openSession(): Session {
    if (this.#closed) throw toVaultError(new Error('CKR_SESSION_CLOSED'), 'open session');
    try {
      const s = this.#slot.open(RW_SERIAL_SESSION);
      this.#open += 1;
      return s;
    } catch (e) {
      throw toVaultError(e, 'open session', 'E_HSM_UNAVAILABLE');
    }
  }

  #acquire(): Promise<Session> {
    const idle = this.#idle.pop();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.#open < this.#max) return Promise.resolve(this.#openSession());
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #release(s: Session): void {
    if (this.#closed) return this.#discard(s);
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(s);
    else this.#idle.push(s);
  }

  #discard(s: Session): void {
    this.#open -= 1;
    try {
      s.close();
    } catch {
      // the session is already gone with the device
    }
    // A waiter would otherwise wait for a session that never comes back.
    const waiter = this.#waiters.shift();
    if (waiter !== undefined && !this.#closed) {
      try {
        waiter(this.#openSession());
      } catch {
        this.#waiters.unshift(waiter);
      }
    }
  }
}

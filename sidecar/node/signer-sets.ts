/**
 * Which t holders sign (DESIGN §4 "Signing API": the receiving node assembles t signers, itself
 * among them), and the quarantine of signer sets that keep aborting with nobody named (issue 10
 * item 4; README "What is and is not attributable").
 *
 * Two checks cannot name a culprit: presigning's δ·X = ΣS_j (the χ side is never opened, it
 * involves the key shares) and the sign round's digest comparison (a signer's digest may differ
 * because the assembling node asked it for another message). One corrupt signer can therefore
 * kill presignatures of every set it belongs to without being named. Such an abort does not say
 * who, but it does say which ordered signer set the session ran with, and a set without the
 * corrupt party never aborts that way. So each node counts, per (key, signer set), the
 * unattributed aborts of the sessions it took part in over a sliding window; a set that reaches
 * the threshold is quarantined for a while (twice as long each time it comes back soon), and
 * `choose` then picks another set of t holders that includes this node and is not quarantined.
 * Only sessions whose own members aborted can quarantine a set, so a corrupt party can push out
 * sets it belongs to and no others. With every set that includes this node quarantined, `choose`
 * fails with E_SIGNERS_UNAVAILABLE (and when the first is released) instead of looping.
 *
 * The state lives in memory: a restart forgets it (the corrupt party then gets another
 * QUARANTINE_AFTER aborts). Timeouts and refusals are not counted here: they never name anyone
 * either, and they are what a party that is down produces, which the failover handles.
 *
 * `choose` is the one place where signing and the pool refill pick signers. Its `unavailable`
 * parties (peer-health.ts: no answer to the reachability probe, or excluded for a while after a
 * call to them got none) are left out of the candidates before any set is tried; a switch away
 * from a set because one of its parties became unavailable is counted with reason `unavailable`,
 * and the way back, when it is available again, as `recovered`.
 */
import { PlanError } from './plan-error.ts';

/** Unattributed aborts older than this no longer count towards a quarantine. */
export const UNATTRIBUTED_WINDOW_MS = 10 * 60_000;
/**
 * Unattributed aborts of one set within the window that quarantine it. An honest set does not
 * abort this way at all, so this is not about noise in the protocol; it keeps one unlucky event
 * (a bug, a version skew between nodes) from moving signing, and bounds what a corrupt signer
 * gets for free: at most this many dead presignatures per set and quarantine period.
 */
export const QUARANTINE_AFTER = 3;
/** The first quarantine of a set; each further one within REOFFENCE_MEMORY_MS lasts twice as long. */
export const QUARANTINE_MS = 30 * 60_000;
/** The longest quarantine: a set keeps being tried at least daily, so a repaired party rejoins. */
export const QUARANTINE_MAX_MS = 24 * 60 * 60_000;
/** A set that stayed out of quarantine this long after its last one starts again at QUARANTINE_MS. */
export const REOFFENCE_MEMORY_MS = QUARANTINE_MAX_MS;
/**
 * Sets tracked at once, over all keys. A node sees at most C(n−1, t−1) sets per key (those with
 * itself), and only those that aborted are tracked, so this is a memory bound and nothing more;
 * past it the least recently touched record goes.
 */
export const MAX_TRACKED_SETS = 4096;

/** Why a candidate set was passed over. */
export type SkipReason = 'quarantined';
/**
 * Why the set a key signs with changed: moved off a quarantined set, off a set with a party that
 * is unavailable now (peer-health.ts), or back to a preferred one.
 */
export type SwitchReason = SkipReason | 'unavailable' | 'recovered';
export const SWITCH_REASONS: readonly SwitchReason[] = ['quarantined', 'unavailable', 'recovered'];
/** Sessions whose unattributed aborts are counted: presigning and the online round. */
export type CountedProtocol = 'presign' | 'sign';

/** An ordered signer set as text ("1,3"): the form it takes in logs, maps and metric labels. */
export function signerSetLabel(signers: readonly number[]): string {
  return signers.join(',');
}

function holdersRing(parties: readonly number[], threshold: number, self: number): number[] {
  const ring = [...new Set(parties)].sort((a, b) => a - b);
  if (!ring.includes(self)) throw new PlanError('E_SIGNERS_INVALID', `party ${self} is not a holder`);
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > ring.length) throw new PlanError('E_SIGNERS_INVALID', `threshold ${threshold} does not fit ${ring.length} holders`);
  return ring;
}

/** The default set led by `self`: itself and the next t−1 holders in ring order, ascending. */
export function defaultSignerSet(parties: readonly number[], threshold: number, self: number): number[] {
  const ring = holdersRing(parties, threshold, self);
  const at = ring.indexOf(self);
  return Array.from({ length: threshold }, (_, i) => ring[(at + i) % ring.length]!).sort((a, b) => a - b);
}

/**
 * Every set of t holders that includes `self` and no `unavailable` party, ascending, in order of
 * preference: the others are taken in ring order after `self` and combined lexicographically, so
 * the first set is the default one and a set differs from it as late in the ring as possible.
 * Lazy: a caller that stops at the first acceptable set never enumerates the others.
 */
export function* candidateSets(parties: readonly number[], threshold: number, self: number, unavailable: ReadonlySet<number> = new Set()): Generator<number[]> {
  const ring = holdersRing(parties, threshold, self);
  const at = ring.indexOf(self);
  const others = [...ring.slice(at + 1), ...ring.slice(0, at)].filter((p) => !unavailable.has(p));
  const k = threshold - 1;
  if (k > others.length) return;
  const pick = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    yield [self, ...pick.map((i) => others[i]!)].sort((a, b) => a - b);
    let i = k - 1;
    while (i >= 0 && pick[i] === others.length - k + i) i--;
    if (i < 0) return;
    pick[i]!++;
    for (let j = i + 1; j < k; j++) pick[j] = pick[j - 1]! + 1;
  }
}

export interface SignerChoice {
  /** The set to use, or undefined when every candidate was skipped. */
  readonly signers: number[] | undefined;
  /** The more preferred sets passed over, with the reason. */
  readonly skipped: readonly { readonly signers: number[]; readonly reason: SkipReason }[];
}

/** The first candidate set (candidateSets' order) that `skip` does not reject. */
export function chooseSigners(opts: {
  parties: readonly number[];
  threshold: number;
  self: number;
  unavailable?: ReadonlySet<number>;
  skip: (signers: readonly number[]) => SkipReason | undefined;
}): SignerChoice {
  const skipped: { signers: number[]; reason: SkipReason }[] = [];
  for (const set of candidateSets(opts.parties, opts.threshold, opts.self, opts.unavailable)) {
    const reason = opts.skip(set);
    if (reason === undefined) return { signers: set, skipped };
    skipped.push({ signers: set, reason });
  }
  return { signers: undefined, skipped };
}

/** No signer set with this party can sign now (every one quarantined, or too few holders left). */
export class SignersUnavailable extends PlanError {
  /** When the first quarantined set is released (epoch ms), or undefined when none will be. */
  readonly retryAt: number | undefined;
  constructor(keyId: string, quarantined: number, retryAt: number | undefined, unavailable: readonly number[] = []) {
    const out = unavailable.length > 0 ? ` (unavailable now: part${unavailable.length > 1 ? 'ies' : 'y'} ${unavailable.join(', ')})` : '';
    super(
      'E_SIGNERS_UNAVAILABLE',
      quarantined > 0
        ? `no signer set of key ${keyId} with this party can sign: all ${quarantined} are quarantined after repeated unattributed aborts` +
            (retryAt === undefined ? '' : `; the first is released at ${new Date(retryAt).toISOString()}`) + out
        : `no signer set of key ${keyId} with this party can sign: too few holders are available${out}`,
    );
    this.retryAt = retryAt;
  }
}

/** What the node reports (metrics, logs); every callback is optional. */
export interface SignerSetEvents {
  unattributed?(keyId: string, signers: readonly number[], protocol: CountedProtocol): void;
  quarantined?(keyId: string, signers: readonly number[], until: number, strikes: number): void;
  switched?(keyId: string, from: readonly number[], to: readonly number[], reason: SwitchReason): void;
}

interface SetRecord {
  readonly keyId: string;
  readonly signers: readonly number[];
  /** Times of the unattributed aborts still in the window, oldest first (at most QUARANTINE_AFTER). */
  aborts: number[];
  /** End of the current or last quarantine (0: never quarantined). */
  until: number;
  /** Quarantines in a row, each within REOFFENCE_MEMORY_MS of the previous one's end. */
  strikes: number;
  touched: number;
}

/** The quarantine a set gets on its `strikes`-th offence in a row (1-based). */
export function quarantineDuration(strikes: number): number {
  return Math.min(QUARANTINE_MAX_MS, QUARANTINE_MS * 2 ** Math.min(Math.max(strikes - 1, 0), 32));
}

export class SignerSets {
  readonly #now: () => number;
  readonly #events: SignerSetEvents;
  readonly #records = new Map<string, SetRecord>();
  /** Per key: the set `choose` returned last, to count switches. */
  readonly #chosen = new Map<string, readonly number[]>();

  constructor(opts: { now?: () => number; events?: SignerSetEvents } = {}) {
    this.#now = opts.now ?? Date.now;
    this.#events = opts.events ?? {};
  }

  /**
   * Records how a presign or sign session of `signers` ended at this node. Only an abort that
   * names nobody for a reason other than a timeout counts (ProtocolAbort `unattributed`); an
   * abort with a culprit is the culprit's, and a timeout is what a party that is down produces.
   * Returns whether it counted.
   */
  recordAbort(keyId: string, signers: readonly number[], protocol: CountedProtocol, abort: { readonly culprits: readonly number[]; readonly reason: string }): boolean {
    if (abort.culprits.length > 0 || abort.reason !== 'unattributed') return false;
    const now = this.#now();
    this.#sweep(now);
    const id = `${keyId}\u0000${signerSetLabel(signers)}`;
    let r = this.#records.get(id);
    if (!r) {
      r = { keyId, signers: [...signers], aborts: [], until: 0, strikes: 0, touched: now };
      this.#records.set(id, r);
      this.#bound();
    }
    r.touched = now;
    this.#events.unattributed?.(keyId, r.signers, protocol);
    // Sessions already running, or started by a peer, may still abort a quarantined set: counted
    // above, but the quarantine is neither extended nor stacked.
    if (r.until > now) return true;
    r.aborts = [...r.aborts.filter((t) => t > now - UNATTRIBUTED_WINDOW_MS), now].slice(-QUARANTINE_AFTER);
    if (r.aborts.length >= QUARANTINE_AFTER) {
      r.strikes = r.until > 0 && now - r.until <= REOFFENCE_MEMORY_MS ? r.strikes + 1 : 1;
      r.until = now + quarantineDuration(r.strikes);
      r.aborts = [];
      this.#events.quarantined?.(keyId, r.signers, r.until, r.strikes);
    }
    return true;
  }

  /** End of the quarantine of this set (epoch ms), or undefined when it is not quarantined. */
  quarantinedUntil(keyId: string, signers: readonly number[]): number | undefined {
    const r = this.#records.get(`${keyId}\u0000${signerSetLabel(signers)}`);
    return r && r.until > this.#now() ? r.until : undefined;
  }

  /**
   * The signer set for the next presignature or signature of `keyId` assembled by `self`: the
   * default set unless it is quarantined or holds an `unavailable` party, else the first candidate
   * that does neither. Throws SignersUnavailable when there is none.
   */
  choose(keyId: string, holders: { readonly parties: readonly number[]; readonly threshold: number }, self: number, opts: { unavailable?: ReadonlySet<number>; peek?: boolean } = {}): number[] {
    const choice = chooseSigners({
      parties: holders.parties,
      threshold: holders.threshold,
      self,
      ...(opts.unavailable ? { unavailable: opts.unavailable } : {}),
      skip: (set) => (this.quarantinedUntil(keyId, set) === undefined ? undefined : 'quarantined'),
    });
    if (!choice.signers) {
      const ends = choice.skipped.map((s) => this.quarantinedUntil(keyId, s.signers)).filter((t): t is number => t !== undefined);
      const out = holders.parties.filter((p) => opts.unavailable?.has(p)).sort((a, b) => a - b);
      throw new SignersUnavailable(keyId, choice.skipped.length, ends.length ? Math.min(...ends) : undefined, out);
    }
    const chosen = choice.signers;
    // A read (the key's API answer) says which set signing would take, and changes nothing.
    if (opts.peek) return chosen;
    const last = this.#chosen.get(keyId);
    this.#chosen.set(keyId, chosen);
    if (last && signerSetLabel(last) !== signerSetLabel(chosen)) {
      const passed = choice.skipped.find((s) => signerSetLabel(s.signers) === signerSetLabel(last));
      // A last set that is no candidate any more (the holders changed) is a rotation, not a switch.
      if (passed) this.#events.switched?.(keyId, last, chosen, passed.reason);
      else if (this.#isCandidate(last, holders, self)) this.#events.switched?.(keyId, last, chosen, last.some((p) => opts.unavailable?.has(p)) ? 'unavailable' : 'recovered');
    }
    return chosen;
  }

  /** Quarantined sets per key, for every key this node has chosen signers for or counted. */
  quarantinedCounts(): Map<string, number> {
    const now = this.#now();
    const out = new Map<string, number>([...this.#chosen.keys()].map((k) => [k, 0]));
    for (const r of this.#records.values()) out.set(r.keyId, (out.get(r.keyId) ?? 0) + (r.until > now ? 1 : 0));
    return out;
  }

  /** Whether `set` is still a set of t of the key's holders with `self` (whatever is available now). */
  #isCandidate(set: readonly number[], holders: { readonly parties: readonly number[]; readonly threshold: number }, self: number): boolean {
    return set.length === holders.threshold && set.includes(self) && set.every((p) => holders.parties.includes(p));
  }

  /** Drops records with nothing left to remember: no abort in the window, no quarantine to recall. */
  #sweep(now: number): void {
    for (const [id, r] of this.#records) {
      const live = r.aborts.some((t) => t > now - UNATTRIBUTED_WINDOW_MS);
      const remembered = r.until > 0 && now - r.until <= REOFFENCE_MEMORY_MS;
      if (!live && !remembered) this.#records.delete(id);
    }
  }

  #bound(): void {
    while (this.#records.size > MAX_TRACKED_SETS) {
      let oldest: [string, SetRecord] | undefined;
      for (const e of this.#records) if (!oldest || e[1].touched < oldest[1].touched) oldest = e;
      this.#records.delete(oldest![0]);
    }
  }
}

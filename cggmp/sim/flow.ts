/**
 * The whole life cycle in one process over the in-memory network (`vilna-mpc simulate`, DESIGN
 * §8): keygen, aux-info, presign and sign, refresh (with fresh aux-info) and sign again, sign
 * under a derived path, then reshare to a larger set and sign with the new shares. With a
 * corruption, the named party deviates in its protocol and the run stops at the honest parties'
 * abort.
 */
import { randomBytes } from 'node:crypto';
import { freshPrimes, type PrimeSource } from '../arith/index.ts';
import { xpub } from '../hd/index.ts';
import type { SecurityLevel } from '../params.ts';
import { ProtocolAbort } from '../protocols/abort.ts';
import { auxInfo, generateAuxKeys } from '../protocols/aux-info.ts';
import type { PartyIndex } from '../protocols/channel.ts';
import { keygen } from '../protocols/keygen.ts';
import { withAux, type KeyShare } from '../protocols/key-share.ts';
import { presign } from '../protocols/presign.ts';
import { refresh } from '../protocols/refresh.ts';
import { reshare, reshareParticipants, type ResharePlan } from '../protocols/reshare.ts';
import { sign, type EcdsaSignature, type MessageHash } from '../protocols/sign.ts';
import type { Session } from '../protocols/session.ts';
import { corruptSession } from './adversary.ts';
import type { Encodable } from '../transcript/index.ts';
import { verifyAbortEvidence, type EvidenceContext } from '../protocols/evidence.ts';
import { BEHAVIOURS, type ProtocolName } from './behaviours.ts';
import { corruptWrap, runSession, simGroup, type Outcome, type SimGroup } from './run.ts';

export interface FlowOptions {
  readonly level: SecurityLevel;
  readonly parties: number;
  readonly threshold: number;
  readonly primes?: PrimeSource;
  readonly corrupt?: { readonly party: PartyIndex; readonly behaviour: string };
  /** Progress lines (to stderr in the CLI). */
  readonly progress?: (line: string) => void;
}

export interface SignatureReport {
  readonly message: Uint8Array;
  readonly hash: MessageHash;
  readonly signature: EcdsaSignature;
  readonly derivationPath: string;
  readonly epoch: number;
}

export interface FlowReport {
  readonly publicKey: KeyShare['public']['publicKey'];
  readonly xpub: string;
  readonly threshold: number;
  readonly parties: readonly PartyIndex[];
  readonly signatures: readonly SignatureReport[];
  readonly rotation: { readonly epochBefore: number; readonly epochAfter: number; readonly publicKeyUnchanged: boolean };
  readonly reshare: {
    readonly parties: readonly PartyIndex[];
    readonly threshold: number;
    readonly epochBefore: number;
    readonly epochAfter: number;
    readonly publicKeyUnchanged: boolean;
  };
  readonly timingsMs: Record<string, number>;
}

/** Thrown when the honest parties abort: what they said. */
export class SimulationAborted extends Error {
  readonly protocol: string;
  readonly round: number;
  readonly culprits: readonly PartyIndex[];
  readonly reason: string;
  /** Each honest party's abort, and what a checker of their evidence knows. */
  readonly aborts: readonly ProtocolAbort[];
  readonly evidenceContext: EvidenceContext;
  constructor(aborts: readonly ProtocolAbort[], evidenceContext: EvidenceContext) {
    const first = aborts[0]!;
    const culprits = [...new Set(aborts.flatMap((a) => a.culprits))].sort((a, b) => a - b);
    super(`${first.protocol} aborted in round ${first.round}: ${first.reason}, culprits [${culprits.join(', ')}]`);
    this.protocol = first.protocol;
    this.round = first.round;
    this.culprits = culprits;
    this.reason = first.reason;
    this.aborts = aborts;
    this.evidenceContext = evidenceContext;
  }
}

export async function simulate(opts: FlowOptions): Promise<FlowReport> {
  const { level, threshold: t } = opts;
  const progress = opts.progress ?? (() => undefined);
  const primes = opts.primes ?? freshPrimes;
  const parties = Array.from({ length: opts.parties }, (_, i) => i + 1);
  const newParty = opts.parties + 1;
  const group = simGroup([...parties, newParty]);
  const corrupt = opts.corrupt;
  const corruption = corrupt ? BEHAVIOURS[corrupt.behaviour] : undefined;
  if (corrupt && !corruption) throw new Error(`unknown behaviour "${corrupt.behaviour}"`);
  if (corrupt && !parties.includes(corrupt.party)) throw new Error(`party ${corrupt.party} is not one of 1..${opts.parties}`);
  // The corrupt party always signs and deals: it leads the signer set.
  const signers = corrupt ? [corrupt.party, ...parties.filter((p) => p !== corrupt.party)].slice(0, t).sort((a, b) => a - b) : parties.slice(0, t);
  const timings: Record<string, number> = {};
  const memory = new Map<string, Encodable>();

  async function step<T>(
    name: string,
    protocol: ProtocolName,
    members: readonly PartyIndex[],
    run: (s: Session) => Promise<T>,
    ctx: { sid?: Uint8Array; reshare?: ResharePlan; evidence?: Partial<EvidenceContext> } = {},
  ): Promise<Map<PartyIndex, T>> {
    progress(`${name}…`);
    const started = Date.now();
    const sid = ctx.sid ?? randomBytes(32);
    const hit = corrupt && corruption?.protocol === protocol && members.includes(corrupt.party) ? corrupt.party : undefined;
    const honest = members.filter((p) => p !== hit);
    const behaviour =
      hit !== undefined && corruption?.channel
        ? await corruption.channel(sid, { party: hit, signer: group.signers.get(hit)!, memory, ...(ctx.reshare ? { reshare: ctx.reshare } : {}) })
        : undefined;
    const tamper =
      hit !== undefined && corruption?.session ? corruption.session(sid, { party: hit, ...(ctx.reshare ? { reshare: ctx.reshare } : {}) }) : undefined;
    const identities = new Map(members.map((p) => [p, group.identities.get(p)!] as const));
    const evidenceContext: EvidenceContext = {
      identities,
      sid,
      level,
      threshold: t,
      signers: members,
      ...(ctx.reshare ? { reshare: ctx.reshare } : {}),
      ...ctx.evidence,
    };
    const outcomes: Map<PartyIndex, Outcome<T>> = await runSession(
      {
        protocol,
        verifyAbort: (a) => verifyAbortEvidence(a, evidenceContext),
        group,
        parties: members,
        sid,
        timeoutMs: 120_000,
        awaitParties: honest,
        ...(behaviour ? { wrap: corruptWrap(group, members, hit!, behaviour) } : {}),
        ...(tamper ? { wrapSession: (p: PartyIndex, s: Session) => (p === hit ? corruptSession(s, tamper) : s) } : {}),
      },
      run,
    );
    timings[name] = (timings[name] ?? 0) + (Date.now() - started);
    const aborts = honest.map((p) => outcomes.get(p)!).filter((o): o is { ok: false; error: unknown } => !o.ok);
    if (aborts.length) {
      const errors = aborts.map((a) => a.error);
      const protocolAborts = errors.filter((e): e is ProtocolAbort => e instanceof ProtocolAbort);
      if (protocolAborts.length !== errors.length) throw errors.find((e) => !(e instanceof ProtocolAbort));
      throw new SimulationAborted(protocolAborts, evidenceContext);
    }
    // Every party that finished, the corrupt one included when it did (it may go on deviating).
    const done = new Map<PartyIndex, T>();
    for (const [p, o] of outcomes) if (o.ok) done.set(p, o.value);
    return done;
  }

  function sharesOf<T>(results: Map<PartyIndex, T>, members: readonly PartyIndex[], what: string): Map<PartyIndex, T> {
    const missing = members.filter((p) => !results.has(p));
    if (missing.length) throw new Error(`${what}: party ${missing.join(', ')} stopped without an abort by the others`);
    return results;
  }

  async function provision(members: readonly PartyIndex[], shares: Map<PartyIndex, KeyShare>, name: string): Promise<Map<PartyIndex, KeyShare>> {
    sharesOf(shares, members, name);
    const aux = await step(name, 'aux-info', members, async (s) => {
      const bad = corrupt && s.params.self === corrupt.party ? corruption?.auxKeys : undefined;
      return auxInfo(s, { level, primes }, bad ? await bad(level, primes) : await generateAuxKeys(level, primes));
    });
    return new Map(members.filter((p) => aux.has(p)).map((p) => [p, withAux(shares.get(p)!, aux.get(p)!)] as const));
  }

  const signatures: SignatureReport[] = [];
  async function signOnce(shares: Map<PartyIndex, KeyShare>, who: readonly PartyIndex[], message: string, hash: MessageHash, path = 'm'): Promise<void> {
    const key = shares.get(who[0]!)!.public;
    const presigs = await step('presign', 'presign', who, (s) => presign(s, { level, share: shares.get(s.params.self)!, derivationPath: path }), {
      evidence: { key, derivationPath: path },
    });
    const sid = presigs.values().next().value!.binding.sid;
    const bytes = new TextEncoder().encode(message);
    const sigs = await step('sign', 'sign', who, (s) => sign(s, presigs.get(s.params.self)!, { message: bytes, hash }), { sid });
    const epoch = shares.get(who[0]!)!.public.epoch;
    signatures.push({ message: bytes, hash, signature: sigs.values().next().value!, derivationPath: presigs.values().next().value!.binding.derivationPath, epoch });
  }

  // Key ceremony: keygen, then provisioning.
  const base = await step('keygen', 'keygen', parties, (s) => keygen(s, { keyId: 'simulated-key', threshold: t }));
  let shares = await provision(parties, base, 'auxInfo');
  const pub0 = shares.get(parties[0]!)!.public;
  await signOnce(shares, signers, 'vilna-mpc simulate: first signature', 'sha256');

  // Refresh, fresh aux-info, sign again.
  const refreshed = await step('refresh', 'refresh', parties, (s) => refresh(s, shares.get(s.params.self)!), {
    evidence: { refresh: shares.get(parties[0]!)!.public },
  });
  shares = await provision(parties, refreshed, 'refreshAuxInfo');
  const pub1 = shares.get(parties[0]!)!.public;
  await signOnce(shares, signers, 'vilna-mpc simulate: after refresh', 'keccak256');
  await signOnce(shares, signers, 'vilna-mpc simulate: derived key', 'sha256d', 'm/0/1');

  // Reshare to the set plus one new party, same threshold; the signers deal.
  const plan: ResharePlan = {
    keyId: pub1.keyId,
    oldEpoch: pub1.epoch,
    publicKey: pub1.publicKey,
    chainCode: pub1.chainCode,
    oldThreshold: t,
    oldParties: parties,
    oldPublicShares: pub1.publicShares,
    dealers: signers,
    newParties: [...parties, newParty],
    newThreshold: t,
  };
  const members = reshareParticipants(plan);
  sharesOf(shares, plan.dealers, 'reshare');
  const reshared = await step(
    'reshare',
    'reshare',
    members,
    (s) => reshare(s, { ...plan, ...(plan.dealers.includes(s.params.self) ? { share: shares.get(s.params.self)! } : {}) }),
    { reshare: plan },
  );
  const newShares = new Map([...reshared].filter((e): e is [PartyIndex, KeyShare] => e[1] !== undefined));
  const afterReshare = await provision(plan.newParties, newShares, 'reshareAuxInfo');
  const pub2 = afterReshare.get(newParty)!.public;
  // The newest holders sign, the joining party among them.
  await signOnce(afterReshare, plan.newParties.slice(-t), 'vilna-mpc simulate: after reshare', 'sha256');

  return {
    publicKey: pub0.publicKey,
    xpub: xpub(pub0.publicKey, pub0.chainCode),
    threshold: t,
    parties,
    signatures,
    rotation: { epochBefore: pub0.epoch, epochAfter: pub1.epoch, publicKeyUnchanged: pub1.publicKey.equals(pub0.publicKey) },
    reshare: {
      parties: pub2.parties,
      threshold: pub2.threshold,
      epochBefore: pub1.epoch,
      epochAfter: pub2.epoch,
      publicKeyUnchanged: pub2.publicKey.equals(pub0.publicKey),
    },
    timingsMs: timings,
  };
}

export type { SimGroup };

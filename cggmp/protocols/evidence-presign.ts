/**
 * Re-runnable checks behind presigning's and signing's aborts (see evidence.ts for the rules):
 * each re-reads the culprit's signed messages and re-runs the same proof or opening check,
 * taking keys, signer set and path from the checker's own state.
 */
import { G, IDENTITY } from '../curve/index.ts';
import { deriveShift } from '../hd/index.ts';
import type { SecurityLevel } from '../params.ts';
import { assertScalar } from '../validate.ts';
import { verifyAffG, verifyElog, verifyEncElg } from '../zk/index.ts';
import { CURVE_ORDER } from '../curve/index.ts';
import type { AbortEvidence } from './abort.ts';
import { decode, env, fails, isRound, need } from './evidence-support.ts';
import { sameBytes, type Envelope, type PartyIndex } from './channel.ts';
import { exactRecord, int, point } from './fields.ts';
import type { KeySharePublic } from './key-share.ts';
import { identifyDeltaCulprit, readDeltaOpening, type DeltaOpening } from './presign-identify.ts';
import { PRESIGN_ROUNDS, presignProofContext, readAffG, readElog, readEncElg, readRound1, signerView, type Presignature } from './presign.ts';
import { SIGN_ROUND, checkPartial, readPartial } from './sign.ts';

export interface PresignEvidenceContext {
  readonly identities: ReadonlyMap<PartyIndex, Uint8Array>;
  readonly level?: SecurityLevel;
  /** The checker's own public key share (Paillier keys, ring-Pedersen parameters, public shares). */
  readonly key?: KeySharePublic;
  /** The presigning session's signers, ascending (default: every identity). */
  readonly signers?: readonly PartyIndex[];
  /** The path the presignature was made for (default "m"). */
  readonly derivationPath?: string;
  /** For signing aborts: the checker's own presignature of that session. */
  readonly presignature?: Presignature;
}

type Check = (ev: AbortEvidence, ctx: PresignEvidenceContext) => boolean;


function signersOf(ctx: PresignEvidenceContext): readonly PartyIndex[] {
  return ctx.signers ?? [...ctx.identities.keys()].sort((a, b) => a - b);
}

function view(ctx: PresignEvidenceContext) {
  const key = need(ctx.key, 'key share');
  const shift = deriveShift(key.publicKey, key.chainCode, ctx.derivationPath ?? 'm').shift;
  return signerView(key, signersOf(ctx), shift);
}

/** The round's broadcast of every signer, one each, from `envelopes`. */
function broadcastsOf(envelopes: readonly Envelope[], round: number, signers: readonly PartyIndex[]): Map<PartyIndex, Envelope> {
  const out = new Map<PartyIndex, Envelope>();
  for (const p of signers) {
    const e = envelopes.find((x) => x.sender === p && isRound(x, round, true));
    if (!e) throw new Error('evidence: broadcast missing');
    out.set(p, e);
  }
  return out;
}

export const PRESIGN_CHECKS: Record<string, Check> = {
  'presign-r1-shape': (ev) => isRound(env(ev, 0), PRESIGN_ROUNDS.commit, true) && fails(() => readRound1(decode(env(ev, 0)))),

  'presign-enc-elg': (ev, ctx) => {
    const [p, b] = [env(ev, 0), env(ev, 1)];
    if (!isRound(p, PRESIGN_ROUNDS.commit, false) || !isRound(b, PRESIGN_ROUNDS.commit, true) || p.sender !== b.sender) return false;
    const v = view(ctx);
    const Ri = need(v.get(p.recipient), 'accuser').R;
    const Nj = need(v.get(p.sender), 'culprit').N;
    const d = readRound1(decode(b));
    const L = need(ctx.level, 'level');
    return fails(() => {
      const r = exactRecord(decode(p), 'presign r1 p2p', ['psi0', 'psi1']);
      verifyEncElg(L, presignProofContext(p.sid, p.sender), Ri, { N0: Nj, C: d.K, A: d.Y, B: d.A1, X: d.A2 }, readEncElg(r.psi0));
      verifyEncElg(L, presignProofContext(p.sid, p.sender), Ri, { N0: Nj, C: d.Gc, A: d.Y, B: d.B1, X: d.B2 }, readEncElg(r.psi1));
    });
  },

  'presign-elog': (ev) => {
    const [b3, b1] = [env(ev, 0), env(ev, 1)];
    if (!isRound(b3, PRESIGN_ROUNDS.mta, true) || !isRound(b1, PRESIGN_ROUNDS.commit, true) || b3.sender !== b1.sender) return false;
    const d = readRound1(decode(b1));
    return fails(() => {
      const r = exactRecord(decode(b3), 'presign r3', ['Gamma', 'psi']);
      verifyElog(presignProofContext(b3.sid, b3.sender), { L: d.B1, M: d.B2, X: d.Y, Y: point(r, 'Gamma'), H: G }, readElog(r.psi));
    });
  },

  'presign-aff-g': (ev, ctx) => {
    const [p3, b3, accuserR1] = [env(ev, 0), env(ev, 1), env(ev, 2)];
    const ok =
      isRound(p3, PRESIGN_ROUNDS.mta, false) &&
      isRound(b3, PRESIGN_ROUNDS.mta, true) &&
      isRound(accuserR1, PRESIGN_ROUNDS.commit, true) &&
      b3.sender === p3.sender &&
      accuserR1.sender === p3.recipient;
    if (!ok) return false;
    const v = view(ctx);
    const me = need(v.get(p3.recipient), 'accuser');
    const them = need(v.get(p3.sender), 'culprit');
    const Gamma = point(exactRecord(decode(b3), 'presign r3', ['Gamma', 'psi']), 'Gamma');
    const K = readRound1(decode(accuserR1)).K;
    const L = need(ctx.level, 'level');
    const c = presignProofContext(p3.sid, p3.sender);
    return fails(() => {
      const r = exactRecord(decode(p3), 'presign r3 p2p', ['D', 'F', 'DHat', 'FHat', 'psi', 'psiHat']);
      verifyAffG(L, c, me.R, { Nj: me.N, Ni: them.N, C: K, D: int(r, 'D'), Y: int(r, 'F'), X: Gamma }, readAffG(r.psi));
      verifyAffG(L, c, me.R, { Nj: me.N, Ni: them.N, C: K, D: int(r, 'DHat'), Y: int(r, 'FHat'), X: them.X }, readAffG(r.psiHat));
    });
  },

  'presign-reveal': (ev, ctx) => {
    const [b4, b1] = [env(ev, 0), env(ev, 1)];
    if (!isRound(b4, PRESIGN_ROUNDS.reveal, true) || !isRound(b1, PRESIGN_ROUNDS.commit, true) || b4.sender !== b1.sender) return false;
    const r3 = broadcastsOf(ev.envelopes.slice(2), PRESIGN_ROUNDS.mta, signersOf(ctx));
    const Gamma = [...r3.values()].reduce((acc, e) => acc.add(point(exactRecord(decode(e), 'presign r3', ['Gamma', 'psi']), 'Gamma')), IDENTITY);
    const d = readRound1(decode(b1));
    return fails(() => {
      const r = exactRecord(decode(b4), 'presign r4', ['delta', 'S', 'Delta', 'psi']);
      assertScalar(int(r, 'delta'), CURVE_ORDER, 'delta');
      point(r, 'S');
      verifyElog(presignProofContext(b4.sid, b4.sender), { L: d.A1, M: d.A2, X: d.Y, Y: point(r, 'Delta'), H: Gamma }, readElog(r.psi));
    });
  },

  'presign-delta': (ev, ctx) => {
    const culprit = env(ev, 0);
    if (!isRound(culprit, PRESIGN_ROUNDS.identify, true)) return false;
    const signers = signersOf(ctx);
    const v = view(ctx);
    const r1 = broadcastsOf(ev.envelopes, PRESIGN_ROUNDS.commit, signers);
    const r4 = broadcastsOf(ev.envelopes, PRESIGN_ROUNDS.reveal, signers);
    const r6 = broadcastsOf(ev.envelopes, PRESIGN_ROUNDS.identify, signers);
    const verdict = identifyDeltaCulprit({
      level: need(ctx.level, 'level'),
      sid: culprit.sid,
      signers,
      identities: ctx.identities,
      mtaRound: PRESIGN_ROUNDS.mta,
      paillier: new Map(signers.map((j) => [j, need(v.get(j), 'signer').pk] as const)),
      K: new Map(signers.map((j) => [j, readRound1(decode(r1.get(j)!)).K] as const)),
      G: new Map(signers.map((j) => [j, readRound1(decode(r1.get(j)!)).Gc] as const)),
      delta: new Map(signers.map((j) => [j, int(exactRecord(decode(r4.get(j)!), 'presign r4', ['delta', 'S', 'Delta', 'psi']), 'delta')] as const)),
      openings: new Map<PartyIndex, DeltaOpening | Error>(
        signers.map((j): readonly [PartyIndex, DeltaOpening | Error] => {
          try {
            return [j, readDeltaOpening(decode(r6.get(j)!), signers.filter((p) => p !== j))];
          } catch (e) {
            return [j, e as Error];
          }
        }),
      ),
    });
    return verdict?.culprit === culprit.sender;
  },

  'sign-partial': (ev, ctx) => {
    const e = env(ev, 0);
    const presig = need(ctx.presignature, 'presignature');
    if (!isRound(e, SIGN_ROUND, true) || !sameBytes(e.sid, presig.binding.sid)) return false;
    const at = presig.binding.signers.indexOf(e.sender);
    if (at < 0) return false;
    return fails(() => checkPartial(presig.Gamma, presig.DeltaTilde[at]!, presig.STilde[at]!, readPartial(decode(e))));
  },
};

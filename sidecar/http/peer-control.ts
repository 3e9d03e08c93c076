/**
 * The control endpoints between nodes (and from the operator), on the mutual-TLS peer listener
 * (DESIGN §4): plans and their epoch switch, presigning, partial signatures, decisions for
 * recovering peers, audit head anchors. Thin: validate the shape, delegate, map errors.
 */
import express, { type Router } from 'express';
import { z } from 'zod';
import { SignatureRequestSchema } from '../../api/signing.ts';
import { parsePlan } from '../../api/index.ts';
import type { ApproverRotation } from '../node/approver-rotation.ts';
import type { Coordinator } from '../node/coordinator.ts';
import type { PlanParticipant } from '../node/plan-participant.ts';
import type { PlanView } from '../node/plan-view.ts';
import type { Presigner } from '../node/presigner.ts';
import type { SigningService } from '../node/signing-service.ts';
import { handle, HttpError } from './errors.ts';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const hex128 = z.string().regex(/^[0-9a-f]{128}$/);
const keyId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const party = z.number().int().min(1).max(1024);
const nonce = z.strictObject({ party, nonce: hex64, signature: hex128 });
const vote = z.strictObject({ party, transcriptHash: hex64, signature: hex128 });
const decision = z.strictObject({ planHash: hex64, transcriptHash: hex64, votes: z.array(vote).max(64), coordinator: z.strictObject({ party, signature: hex128 }) });
const subject = z.strictObject({
  keyId,
  epoch: z.number().int().min(0),
  signers: z.array(party).min(2).max(64),
  derivationPath: z.string().max(2048),
  boundDigest: z.string().regex(/^[0-9a-f]{64}$/).exactOptional(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new HttpError(400, 'E_MALFORMED', `${i.path.join('.') || 'body'}: ${i.message}`);
  }
  return r.data;
}

export interface PeerControlDeps {
  readonly participant: PlanParticipant;
  readonly coordinator: Coordinator;
  readonly presigner: Presigner;
  readonly signing: SigningService;
  /** Records a peer's signed audit head in this party's log. */
  readonly recordPeerHead: (head: unknown) => Promise<void>;
  /** Applies an approved change of this party's approvers. */
  readonly rotation: Pick<ApproverRotation, 'apply'>;
  /** Public facts for the operator's MpcParty status: identity, approver pin, HSM health, keys held. */
  readonly nodeStatus: () => Promise<unknown>;
  /** Runs presign work in the background (its failure is logged, not answered). */
  readonly background: (what: string, p: Promise<unknown>) => void;
}

export function peerControlRouter(d: PeerControlDeps): Router {
  const r = express.Router();

  r.post('/plans', handle(async (req, res) => {
    const body = parse(z.strictObject({ plan: z.unknown(), approvals: z.unknown() }), req.body);
    res.json(await d.participant.prepare(body.plan, body.approvals));
  }));
  r.post('/plans/:planHash/start', handle(async (req, res) => {
    const planHash = parse(hex64, req.params.planHash);
    const body = parse(z.strictObject({ nonces: z.array(nonce).max(64), coordinator: z.strictObject({ party, signature: hex128 }) }), req.body);
    res.status(202).json(d.participant.start(planHash, body.nonces, body.coordinator));
  }));
  r.get('/plans/:planHash', handle(async (req, res) => {
    const status = await d.participant.status(parse(hex64, req.params.planHash));
    if (!status) throw new HttpError(404, 'E_UNKNOWN_PLAN', 'plan not known here');
    res.json(status);
  }));
  r.post('/keys/:keyId/commit', handle(async (req, res) => {
    res.json(await d.participant.commit(parse(keyId, req.params.keyId), parse(decision, req.body)));
  }));
  r.post('/keys/:keyId/abort', handle(async (req, res) => {
    await d.participant.abort(parse(keyId, req.params.keyId), parse(z.strictObject({ planHash: hex64, coordinator: party, signature: hex128 }), req.body));
    res.json({ ok: true });
  }));
  r.post('/keys/:keyId/retire', handle(async (req, res) => {
    // plan and approvals: for an old holder a reshare leaves out, which has no record of the plan.
    const body = parse(z.strictObject({ planHash: hex64, testSignature: z.strictObject({ r: hex64, s: hex64 }), plan: z.unknown().optional(), approvals: z.unknown().optional() }), req.body);
    const reshare = body.plan !== undefined ? { plan: body.plan, approvals: body.approvals } : undefined;
    await d.participant.retire(parse(keyId, req.params.keyId), body.planHash, body.testSignature, reshare);
    res.json({ ok: true });
  }));
  r.get('/keys/:keyId/public', handle(async (req, res) => {
    const epoch = parse(z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER), req.query.epoch);
    res.json(await d.participant.publicState(parse(keyId, req.params.keyId), epoch));
  }));
  r.get('/decisions/:planHash', handle(async (req, res) => {
    const planHash = parse(hex64, req.params.planHash);
    const own = await d.participant.decision(planHash);
    if (own) return void res.json(own);
    const rec = await d.coordinator.record(planHash);
    if (rec?.state === 'commit' || rec?.state === 'done') return void res.json({ state: 'commit', decision: rec.decision });
    if (rec?.state === 'abort' && rec.abort) return void res.json({ state: 'abort', abort: rec.abort });
    throw new HttpError(404, 'E_UNKNOWN_PLAN', 'no decision known here');
  }));

  r.post('/ceremonies', handle(async (req, res) => {
    const body = parse(z.strictObject({ plan: z.unknown(), approvals: z.unknown() }), req.body);
    let plan: PlanView;
    try {
      plan = parsePlan(body.plan) as PlanView;
    } catch (e) {
      throw new HttpError(400, 'E_PLAN_INVALID', (e as Error).message);
    }
    res.status(202).json(await d.coordinator.start(plan, body.approvals));
  }));
  r.get('/ceremonies/:planHash', handle(async (req, res) => {
    const planHash = parse(hex64, req.params.planHash);
    const status = await d.coordinator.status(planHash);
    if (!status) throw new HttpError(404, 'E_UNKNOWN_PLAN', 'this node does not coordinate that plan');
    res.json(status);
  }));

  r.post('/presign/prepare', handle(async (req, res) => {
    res.json(await d.presigner.prepare(parse(subject, req.body)));
  }));
  r.post('/presign/start', handle(async (req, res) => {
    const body = parse(subject.extend({ nonces: z.array(nonce).max(64) }), req.body);
    const { nonces, ...s } = body;
    d.background('presign', d.presigner.start(s, nonces));
    res.status(202).json({ ok: true });
  }));
  r.post('/sign', handle(async (req, res) => {
    const body = parse(
      z.strictObject({ keyId, epoch: z.number().int().min(0), sid: z.string().regex(/^[0-9a-f]{32,128}$/), signers: z.array(party).min(2).max(64), derivationPath: z.string().max(2048), request: SignatureRequestSchema }),
      req.body,
    );
    res.json(await d.signing.participate(body));
  }));

  r.post('/approvers', handle(async (req, res) => {
    const body = parse(z.strictObject({ change: z.unknown(), approvals: z.unknown() }), req.body);
    res.json(await d.rotation.apply(body.change, body.approvals));
  }));

  r.get('/status', handle(async (_req, res) => {
    res.json(await d.nodeStatus());
  }));

  // Reachability probe between nodes (vilna_mpc_peer_reachable): says nothing but "up".
  r.get('/ping', (_req, res) => void res.json({ ok: true }));

  r.post('/audit/heads', handle(async (req, res) => {
    await d.recordPeerHead(req.body);
    res.json({ ok: true });
  }));
  return r;
}

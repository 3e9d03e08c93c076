/**
 * The control endpoints between nodes (and from the operator), on the mutual-TLS peer listener
 * (DESIGN §4): plans and their epoch switch, presigning, partial signatures, decisions for
 * recovering peers, audit head anchors. Thin: validate the shape, delegate, map errors.
 *
 * Calls that act as a party of a key or plan come only from that key's or plan's parties: the
 * caller proves its identity key with its TLS binding (peer-caller.ts) and PeerAuthorizer
 * checks it against the parties concerned; a refusal is 403 E_PEER_BINDING_INVALID or
 * E_PEER_NOT_A_PARTY, counted and logged. What the operator calls with its own certificate (it
 * has no identity key) stays open to any certificate of the peer CA, and each of those is
 * self-certifying or read-only: handing an approved plan to a coordinator, an approved approver
 * change, ceremony and plan statuses, node status, ping.
 */
import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { SignatureRequestSchema } from '../../api/signing.ts';
import { parsePlan } from '../../api/index.ts';
import type { SignedAuditHead } from '../audit/index.ts';
import type { ApproverRotation } from '../node/approver-rotation.ts';
import type { Coordinator } from '../node/coordinator.ts';
import { PeerRefused, type PeerAuthorizer } from '../node/peer-authorizer.ts';
import type { PlanParticipant } from '../node/plan-participant.ts';
import type { PlanView } from '../node/plan-view.ts';
import type { Presigner } from '../node/presigner.ts';
import type { SigningService } from '../node/signing-service.ts';
import type { PeerControlEndpoint } from '../observability/index.ts';
import { peerIdentityCaller, peerListenerCaller } from './caller.ts';
import type { RefusalThrottle } from './refusal-throttle.ts';
import { handle, HttpError } from './errors.ts';
import { peerIdentityOf } from './peer-caller.ts';

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
  /** Records a peer's signed audit head in this party's log; answers this log's head after the record, if one was made. */
  readonly recordPeerHead: (body: unknown) => Promise<SignedAuditHead | undefined>;
  /** Applies an approved change of this party's approvers. */
  readonly rotation: Pick<ApproverRotation, 'apply'>;
  /** Public facts for the operator's MpcParty status: identity, approver pin, HSM health, keys held. */
  readonly nodeStatus: () => Promise<unknown>;
  /** Decides whether a caller is a party of the key or plan a call concerns. */
  readonly authorizer: PeerAuthorizer;
  /** A call refused for its caller (metrics and log); `caller` is its identity key when it proved one. */
  readonly refused: (endpoint: PeerControlEndpoint, e: PeerRefused, caller: string | undefined) => void;
  /** Callers that keep being refused are answered 429 for a while (refusal-throttle.ts). */
  readonly throttle: RefusalThrottle;
  /** A request answered 429 by the throttle. */
  readonly throttled: (caller: string) => void;
}

/**
 * Aborted when the caller goes away before the answer is sent (its deadline passed, it died, its
 * connection dropped): the presign or sign session the call runs then ends at once, since the
 * caller is one of its parties and has given it up.
 */
function callerGone(res: Response): AbortSignal {
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  return gone.signal;
}

export function peerControlRouter(d: PeerControlDeps): Router {
  const r = express.Router();
  const a = d.authorizer;
  r.use(d.throttle.guard((req) => peerListenerCaller(req), d.throttled));

  /** A call reserved to parties: the caller's identity (its TLS binding) first, before anything of the request is read. */
  const asParty = (endpoint: PeerControlEndpoint, fn: (req: Request, res: Response, caller: string) => Promise<void>) =>
    handle(async (req, res) => {
      let caller: string | undefined;
      try {
        caller = peerIdentityOf(req);
        await fn(req, res, caller);
      } catch (e) {
        if (e instanceof PeerRefused) {
          d.throttle.refused(peerListenerCaller(req));
          d.refused(endpoint, e, caller);
        }
        throw e;
      }
    });

  r.post('/plans', asParty('plans.prepare', async (req, res, caller) => {
    const body = parse(z.strictObject({ plan: z.unknown(), approvals: z.unknown() }), req.body);
    a.planBodyMember(caller, body.plan);
    res.json(await d.participant.prepare(body.plan, body.approvals, peerIdentityCaller(caller)));
  }));
  r.post('/plans/:planHash/start', asParty('plans.start', async (req, res, caller) => {
    const planHash = parse(hex64, req.params.planHash);
    a.acceptedPlanMember(caller, planHash);
    const body = parse(z.strictObject({ nonces: z.array(nonce).max(64), coordinator: z.strictObject({ party, signature: hex128 }) }), req.body);
    res.status(202).json(d.participant.start(planHash, body.nonces, body.coordinator));
  }));
  // Open: a status read (phase, the party's signed vote, public results). The coordinator polls
  // it and tells a party that restarted before voting by its E_UNKNOWN_PLAN.
  r.get('/plans/:planHash', handle(async (req, res) => {
    const status = await d.participant.status(parse(hex64, req.params.planHash));
    if (!status) throw new HttpError(404, 'E_UNKNOWN_PLAN', 'plan not known here');
    res.json(status);
  }));
  r.post('/keys/:keyId/commit', asParty('keys.commit', async (req, res, caller) => {
    const id = parse(keyId, req.params.keyId);
    await a.keyParty(caller, id);
    res.json(await d.participant.commit(id, parse(decision, req.body)));
  }));
  r.post('/keys/:keyId/abort', asParty('keys.abort', async (req, res, caller) => {
    const id = parse(keyId, req.params.keyId);
    await a.keyParty(caller, id);
    await d.participant.abort(id, parse(z.strictObject({ planHash: hex64, coordinator: party, signature: hex128 }), req.body));
    res.json({ ok: true });
  }));
  r.post('/keys/:keyId/retire', asParty('keys.retire', async (req, res, caller) => {
    const id = parse(keyId, req.params.keyId);
    // plan and approvals: for an old holder a reshare leaves out, which has no record of the plan.
    const body = parse(z.strictObject({ planHash: hex64, testSignature: z.strictObject({ r: hex64, s: hex64 }), plan: z.unknown().optional(), approvals: z.unknown().optional() }), req.body);
    const reshare = body.plan !== undefined ? { plan: body.plan, approvals: body.approvals } : undefined;
    await a.retirer(caller, id, body.planHash, reshare);
    await d.participant.retire(id, body.planHash, body.testSignature, reshare);
    res.json({ ok: true });
  }));
  r.get('/keys/:keyId/public', asParty('keys.public', async (req, res, caller) => {
    const id = parse(keyId, req.params.keyId);
    const epoch = parse(z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER), req.query.epoch);
    // The reshare the newcomer asks for: the answer is signed for that plan.
    const planHash = parse(hex64, req.query.plan);
    await a.keyParty(caller, id);
    res.json(await d.participant.publicState(id, epoch, planHash));
  }));
  r.get('/decisions/:planHash', asParty('decisions', async (req, res, caller) => {
    const planHash = parse(hex64, req.params.planHash);
    await a.decisionReader(caller, planHash);
    const own = await d.participant.decision(planHash);
    if (own) return void res.json(own);
    const rec = await d.coordinator.record(planHash);
    if (rec?.state === 'commit' || rec?.state === 'done') return void res.json({ state: 'commit', decision: rec.decision });
    if (rec?.state === 'abort' && rec.abort) return void res.json({ state: 'abort', abort: rec.abort });
    throw new HttpError(404, 'E_UNKNOWN_PLAN', 'no decision known here');
  }));

  // Open: the operator hands in an approved plan; the coordinator verifies the approvals itself.
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

  r.post('/presign/prepare', asParty('presign.prepare', async (req, res, caller) => {
    const s = parse(subject, req.body);
    await a.signer(caller, s.keyId, s.signers);
    res.json(await d.presigner.prepare(s, caller));
  }));
  // Answered when this party's presignature is pooled (or its run failed), so that the
  // initiator's call lasts the run and a party that dies meanwhile drops it (presigner.ts).
  r.post('/presign/start', asParty('presign.start', async (req, res, caller) => {
    const body = parse(subject.extend({ nonces: z.array(nonce).max(64) }), req.body);
    const { nonces, ...s } = body;
    await a.signer(caller, s.keyId, s.signers);
    const sid = await d.presigner.start(s, nonces, { signal: callerGone(res), startedBy: 'peer' });
    res.json({ ok: true, sid });
  }));
  r.post('/sign', asParty('sign', async (req, res, caller) => {
    const body = parse(
      z.strictObject({ keyId, epoch: z.number().int().min(0), sid: z.string().regex(/^[0-9a-f]{32,128}$/), signers: z.array(party).min(2).max(64), derivationPath: z.string().max(2048), request: SignatureRequestSchema }),
      req.body,
    );
    await a.signer(caller, body.keyId, body.signers);
    res.json(await d.signing.participate(body, peerIdentityCaller(caller), { signal: callerGone(res) }));
  }));

  // Open: an approver change is applied only with quorums of the pinned and the new approvers.
  r.post('/approvers', handle(async (req, res) => {
    const body = parse(z.strictObject({ change: z.unknown(), approvals: z.unknown() }), req.body);
    res.json(await d.rotation.apply(body.change, body.approvals));
  }));

  r.get('/status', handle(async (_req, res) => {
    res.json(await d.nodeStatus());
  }));

  // Reachability probe between nodes (vilna_mpc_peer_reachable): says nothing but "up".
  r.get('/ping', (_req, res) => void res.json({ ok: true }));

  // The answer carries this log's head after the record, so the sender anchors that record.
  r.post('/audit/heads', asParty('audit.heads', async (req, res, caller) => {
    await a.headSender(caller, (req.body as { identityKey?: unknown } | undefined)?.identityKey);
    const head = await d.recordPeerHead(req.body);
    res.json(head === undefined ? { ok: true } : { ok: true, head });
  }));
  return r;
}

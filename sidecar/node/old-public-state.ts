/**
 * The public state of an epoch that a reshare newcomer needs (DESIGN §3 "Reshare"): public key,
 * chain code, threshold, holders and their public shares. A dealer answers with
 * `describeOldPublic`; a newcomer checks each answer against the approved plan with
 * `parseOldPublic` and compares them with `encodeOldPublic`.
 */
import { z } from 'zod';
import { curve, type protocols } from '../../cggmp/index.ts';
import { PlanError } from './plan-error.ts';
import type { PlanView } from './plan-view.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** What a reshare needs of the old epoch besides the secret shares. */
export type OldPublic = Pick<protocols.KeySharePublic, 'threshold' | 'parties' | 'publicKey' | 'publicShares' | 'chainCode'>;

const compressedPoint = z.string().regex(/^0[23][0-9a-f]{64}$/);
const OldPublicSchema = z.strictObject({
  keyId: z.string(),
  epoch: z.number().int(),
  threshold: z.number().int(),
  parties: z.array(z.number().int().min(1)).max(64),
  publicKey: compressedPoint,
  publicShares: z.array(compressedPoint).max(64),
  chainCode: z.string().regex(/^[0-9a-f]{64}$/),
});

/** A dealer's answer, checked against what the approved plan says of the old epoch. */
export function parseOldPublic(raw: unknown, prev: NonNullable<PlanView['previous']>): OldPublic {
  const r = OldPublicSchema.safeParse(raw);
  if (!r.success) throw new PlanError('E_MALFORMED', 'a dealer answered with a malformed public state');
  const v = r.data;
  const holders = prev.parties.map((p) => p.index);
  if (v.epoch !== prev.epoch || v.threshold !== prev.threshold || v.parties.join() !== holders.join() || v.publicShares.length !== v.parties.length) {
    throw new PlanError('E_RESHARE_STATE_MISMATCH', 'a dealer reports another epoch, threshold or holders than the plan names');
  }
  try {
    return {
      threshold: v.threshold,
      parties: v.parties,
      publicKey: curve.decodePoint(unhex(v.publicKey), 'publicKey'),
      publicShares: v.publicShares.map((X, i) => curve.decodePoint(unhex(X), `publicShares[${i}]`)),
      chainCode: unhex(v.chainCode),
    };
  } catch {
    throw new PlanError('E_MALFORMED', 'a dealer reported a public state with an invalid point');
  }
}

export function encodeOldPublic(o: OldPublic): string {
  return [o.threshold, o.parties.join(), hex(o.publicKey.toBytes(true)), o.publicShares.map((X) => hex(X.toBytes(true))).join(), hex(o.chainCode)].join('|');
}

/** The answer a dealer gives for its current epoch's public state. */
export function describeOldPublic(pub: protocols.KeySharePublic): Record<string, unknown> {
  return {
    keyId: pub.keyId,
    epoch: pub.epoch,
    threshold: pub.threshold,
    parties: [...pub.parties],
    publicKey: hex(pub.publicKey.toBytes(true)),
    publicShares: pub.publicShares.map((X) => hex(X.toBytes(true))),
    chainCode: hex(pub.chainCode),
  };
}

/**
 * The custom resources of group mpc.vilna.io/v1alpha1 (DESIGN §5) as the operator reads them:
 * zod schemas of each kind's spec, mirroring crds/*.yaml. The API server already enforces the
 * YAML schema and its CEL rules; the operator parses again because a remote cluster's objects
 * arrive through credentials it does not control, and a parse failure must become a clear
 * condition rather than an exception deep in a controller.
 */
import { z } from 'zod';
import { KeyIdSchema } from './plan.ts';
import { PolicySchema } from './policy.ts';

export const GROUP = 'mpc.vilna.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const PLURALS = { MpcParty: 'mpcparties', MpcCeremony: 'mpcceremonies', MpcApproval: 'mpcapprovals', ShardRotation: 'shardrotations' } as const;
export type Kind = keyof typeof PLURALS;

/** Label on kubeconfig Secrets of other regions' clusters: its value names the cluster. */
export const CLUSTER_LABEL = 'mpc.vilna.io/cluster';
/** The operator's own cluster in party references. */
export const LOCAL_CLUSTER = 'local';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export const PartyRefSchema = z.object({
  cluster: z.string().regex(DNS_LABEL).default(LOCAL_CLUSTER),
  namespace: z.string().regex(DNS_LABEL).max(63),
  name: z.string().regex(DNS_SUBDOMAIN).max(253),
});
export type PartyRef = z.infer<typeof PartyRefSchema>;

const uniqueRefs = (refs: readonly PartyRef[]): boolean => new Set(refs.map((r) => `${r.cluster}/${r.namespace}/${r.name}`)).size === refs.length;

export const MpcCeremonySpecSchema = z
  .object({
    keyName: KeyIdSchema,
    curve: z.literal('secp256k1').default('secp256k1'),
    threshold: z.number().int().min(2).max(16),
    parties: z.array(PartyRefSchema).min(2).max(16).refine(uniqueRefs, 'parties must be unique'),
    minRegions: z.number().int().min(1).optional(),
    presignaturePool: z.number().int().min(0).max(1000).default(8),
    policy: PolicySchema.optional(),
    rotation: z.object({ every: z.string().regex(/^[1-9][0-9]{0,5}h$/) }).optional(),
  })
  .refine((s) => s.threshold <= s.parties.length, 'threshold cannot exceed the number of parties');
export type MpcCeremonySpec = z.infer<typeof MpcCeremonySpecSchema>;

export const ShardRotationSpecSchema = z
  .object({
    ceremony: z.string().max(253),
    protocol: z.enum(['refresh', 'reshare']),
    threshold: z.number().int().min(2).max(16).optional(),
    parties: z.array(PartyRefSchema).min(2).max(16).refine(uniqueRefs, 'parties must be unique').optional(),
    policy: PolicySchema.optional(),
  })
  .refine((s) => s.protocol !== 'reshare' || s.threshold !== undefined || s.parties !== undefined, 'a reshare needs new parties or a new threshold')
  .refine((s) => s.protocol !== 'refresh' || (s.threshold === undefined && s.parties === undefined && s.policy === undefined), 'a refresh keeps the parties, the threshold and the policy');
export type ShardRotationSpec = z.infer<typeof ShardRotationSpecSchema>;

export const MpcApprovalSpecSchema = z.object({
  planHash: z.string().regex(/^[0-9a-f]{64}$/),
  approver: z.string().regex(/^[0-9a-f]{64}$/),
  signature: z.string().regex(/^[0-9a-f]{128}$/),
});
export type MpcApprovalSpec = z.infer<typeof MpcApprovalSpecSchema>;

export const MpcPartySpecSchema = z.object({
  region: z.string().regex(DNS_LABEL),
  image: z.string().max(512).optional(),
  hsm: z.object({
    module: z.string().regex(/^\/\S*$/),
    tokenLabel: z.string().min(1).max(32),
    pinSecret: z.object({ name: z.string().max(253), key: z.string().max(253).default('pin') }),
    configSecret: z.object({ name: z.string().max(253), key: z.string().max(253).optional() }).optional(),
  }),
  approvers: z.object({ keys: z.array(z.string().regex(/^[0-9a-f]{64}$/)).min(1).max(32), quorum: z.number().int().min(1) }),
  storage: z.object({ size: z.string().regex(/^[1-9][0-9]*(Mi|Gi|Ti)$/).default('1Gi'), storageClassName: z.string().max(253).optional() }).default({ size: '1Gi' }),
  tls: z.object({ secretName: z.string().max(253) }),
  endpoint: z.string().max(512).regex(/^https:\/\/[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$/).optional(),
  apiClients: z.array(z.object({ name: z.string().max(128), tokenSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(), certificateName: z.string().max(253).optional() })).max(64).optional(),
  presignaturePool: z.number().int().min(0).max(1000).default(8),
  resources: z.record(z.string(), z.unknown()).optional(),
});
export type MpcPartySpec = z.infer<typeof MpcPartySpecSchema>;

/** Condition types every kind reports (DESIGN §5). */
export const CONDITION_TYPES = ['Ready', 'Progressing', 'Degraded'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export interface Condition {
  readonly type: ConditionType;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly observedGeneration: number;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

export const CEREMONY_PHASES = ['Pending', 'Provisioning', 'AwaitingApproval', 'KeyGen', 'AuxInfo', 'Ready', 'Failed'] as const;
export type CeremonyPhase = (typeof CEREMONY_PHASES)[number];
export const ROTATION_PHASES = ['Pending', 'AwaitingApproval', 'Running', 'Committing', 'Done', 'Failed'] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];

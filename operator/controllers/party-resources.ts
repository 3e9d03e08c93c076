/**
 * What an MpcParty becomes (DESIGN §5): a ConfigMap with the node's configuration, a Service, a
 * StatefulSet of one replica whose PVC keeps the sealed blobs, and a NetworkPolicy. Pure: the
 * controller applies the result with server-side apply. Every object is owned by the MpcParty
 * (garbage-collected with it), except the PVC: deleting a party never deletes sealed shards.
 */
import { stringify } from 'yaml';
import type { MpcPartySpec } from '../../api/crd.ts';
import { API_VERSION } from '../../api/crd.ts';

export const PORTS = { peer: 8443, api: 8080, metrics: 9100 } as const;
export const PARTY_LABEL = 'mpc.vilna.io/party';
/** Pods allowed to call a party's signing API carry this label (any namespace). */
export const SIGNING_CLIENT_LABEL = 'mpc.vilna.io/signing-client';
const STATE_DIR = '/var/lib/vilna';
const CONFIG_DIR = '/etc/vilna/config';
const TLS_DIR = '/etc/vilna/tls';
const PIN_DIR = '/etc/vilna/hsm-pin';
const UID = 10001;

export interface PartyRef {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

export interface RenderOptions {
  /** The image when the party names none (the operator's own). */
  readonly defaultImage: string;
}

/** The sidecar configuration (sidecar/config.ts) the party's pod reads. */
export function nodeConfig(party: PartyRef, spec: MpcPartySpec): Record<string, unknown> {
  const clients = spec.apiClients ?? [];
  return {
    party: { name: `${party.namespace}.${party.name}`.slice(0, 63), index: 1, stateDir: STATE_DIR },
    hsm: { module: spec.hsm.module, tokenLabel: spec.hsm.tokenLabel, pinFile: `${PIN_DIR}/${spec.hsm.pinSecret.key}` },
    approvers: { keys: [...spec.approvers.keys].sort(), quorum: spec.approvers.quorum },
    tls: { caFile: `${TLS_DIR}/ca.crt`, certFile: `${TLS_DIR}/tls.crt`, keyFile: `${TLS_DIR}/tls.key` },
    listen: { peer: { host: '0.0.0.0', port: PORTS.peer }, api: { host: '0.0.0.0', port: PORTS.api }, metrics: { host: '0.0.0.0', port: PORTS.metrics } },
    api: {
      clients: clients.filter((c) => c.tokenSha256 !== undefined).map((c) => ({ name: c.name, tokenSha256: c.tokenSha256 })),
      clientCertificateNames: clients.filter((c) => c.certificateName !== undefined).map((c) => c.certificateName),
    },
    presignPool: { size: spec.presignaturePool },
  };
}

export function partyResources(party: PartyRef, spec: MpcPartySpec, opts: RenderOptions): Record<string, unknown>[] {
  const labels = { 'app.kubernetes.io/name': 'vilna-mpc', 'app.kubernetes.io/component': 'party', [PARTY_LABEL]: party.name, 'mpc.vilna.io/region': spec.region };
  const owner = [{ apiVersion: API_VERSION, kind: 'MpcParty', name: party.name, uid: party.uid, controller: true, blockOwnerDeletion: true }];
  const meta = (name: string) => ({ name, namespace: party.namespace, labels, ownerReferences: owner });
  const selector = { [PARTY_LABEL]: party.name };
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(`${party.name}-config`),
    data: { 'node.yaml': stringify(nodeConfig(party, spec)) },
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(party.name),
    spec: {
      selector,
      ports: [
        { name: 'peer', port: PORTS.peer, targetPort: 'peer' },
        { name: 'api', port: PORTS.api, targetPort: 'api' },
        { name: 'metrics', port: PORTS.metrics, targetPort: 'metrics' },
      ],
    },
  };
  const statefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(party.name),
    spec: {
      replicas: 1,
      serviceName: party.name,
      selector: { matchLabels: selector },
      // Deleting or scaling the party never deletes the sealed blobs.
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: UID, runAsGroup: UID, fsGroup: UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'sidecar',
              image: spec.image ?? opts.defaultImage,
              args: ['sidecar', '--config', `${CONFIG_DIR}/node.yaml`],
              ports: [
                { name: 'peer', containerPort: PORTS.peer },
                { name: 'api', containerPort: PORTS.api },
                { name: 'metrics', containerPort: PORTS.metrics },
              ],
              readinessProbe: { httpGet: { path: '/v1/health', port: 'api', scheme: 'HTTPS' }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: '/v1/health', port: 'api', scheme: 'HTTPS' }, periodSeconds: 20, failureThreshold: 6 },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              ...(spec.resources ? { resources: spec.resources } : {}),
              volumeMounts: [
                { name: 'state', mountPath: STATE_DIR },
                { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'hsm-pin', mountPath: PIN_DIR, readOnly: true },
                { name: 'tls', mountPath: TLS_DIR, readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: `${party.name}-config` } },
            { name: 'hsm-pin', secret: { secretName: spec.hsm.pinSecret.name, defaultMode: 0o400 } },
            { name: 'tls', secret: { secretName: spec.tls.secretName, defaultMode: 0o400 } },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'state', labels },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: spec.storage.size } },
            ...(spec.storage.storageClassName ? { storageClassName: spec.storage.storageClassName } : {}),
          },
        },
      ],
    },
  };
  // Peers reach the peer port (mutual TLS, from other regions too); the signing API only pods
  // labelled as signing clients; metrics any pod (Prometheus). Egress stays open: peers, DNS, OTLP.
  const networkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(party.name),
    spec: {
      podSelector: { matchLabels: selector },
      policyTypes: ['Ingress'],
      ingress: [
        { ports: [{ port: PORTS.peer, protocol: 'TCP' }] },
        { from: [{ namespaceSelector: {}, podSelector: { matchLabels: { [SIGNING_CLIENT_LABEL]: 'true' } } }], ports: [{ port: PORTS.api, protocol: 'TCP' }] },
        { from: [{ namespaceSelector: {} }], ports: [{ port: PORTS.metrics, protocol: 'TCP' }] },
      ],
    },
  };
  return [configMap, service, statefulSet, networkPolicy];
}

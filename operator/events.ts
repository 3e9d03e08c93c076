/**
 * Kubernetes Events on the operator's objects (DESIGN §5 "events"): what `kubectl describe`
 * shows a custody engineer — a plan published, a ceremony started, a key ready, an abort with its
 * culprits. core/v1 Events, named uniquely; a failure to record one is logged, never fatal.
 */
import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid?: string; readonly resourceVersion?: string };
}

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  readonly #core: CoreV1Api;
  readonly #component: string;
  readonly #onError: (e: unknown) => void;

  constructor(kc: KubeConfig, opts: { readonly component?: string; readonly onError?: (e: unknown) => void } = {}) {
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#component = opts.component ?? 'vilna-mpc-operator';
    this.#onError = opts.onError ?? (() => undefined);
  }

  async record(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const now = new Date();
    const { name, namespace, uid } = target.metadata;
    try {
      await this.#core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name: `${name}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}`, namespace },
          involvedObject: { apiVersion: target.apiVersion, kind: target.kind, name, namespace, ...(uid ? { uid } : {}) },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: this.#component },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (e) {
      this.#onError(e);
    }
  }
}

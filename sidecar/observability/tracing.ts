/**
 * OpenTelemetry traces of the party node (DESIGN §4 "Observability"): one span per protocol
 * session, a child span per round. Off unless an OTLP endpoint is configured: then no provider,
 * no exporter and no network, and the helpers only run the function they wrap.
 *
 * The provider is not registered globally: the node owns its tracer, two nodes in one test
 * process keep their own, and the parent of a round span comes from this module's own
 * AsyncLocalStorage rather than from whatever context manager another library installed.
 * Spans carry the protocol, the session id (public: the hash of the plan and the parties'
 * nonces), the party and the round, never a message payload.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** Instrumentation scope name of the node's spans. */
const TRACER_NAME = 'vilna-mpc/sidecar';
/** Exporter request timeout: a slow collector must not hold shutdown for the default 10 s. */
const EXPORT_TIMEOUT_MS = 5_000;

export const ATTR_PROTOCOL = 'vilna.protocol';
export const ATTR_SID = 'vilna.sid';
export const ATTR_PARTY = 'vilna.party';
export const ATTR_ROUND = 'vilna.round';
export const ATTR_ERROR_CODE = 'vilna.error.code';
export const ATTR_CULPRITS = 'vilna.culprits';

export class TracingConfigError extends Error {
  override readonly name = 'TracingConfigError';
  readonly code = 'E_TRACING_CONFIG';
}

export interface TracingOptions {
  readonly serviceName: string;
  readonly party: number;
  /** OTLP/HTTP base URL (e.g. http://otel-collector:4318); spans go to `${otlpEndpoint}/v1/traces`. */
  readonly otlpEndpoint?: string;
}

export interface Tracing {
  /** False when no endpoint is configured (every helper is then a plain call). */
  readonly enabled: boolean;
  /** Runs one session inside a span named `<protocol> session`; failures are recorded and rethrown. */
  sessionSpan<T>(protocol: string, sidHex: string, fn: (span: Span) => Promise<T>): Promise<T>;
  /** Runs one round inside a span named `<protocol> round <n>`, child of the current session span. */
  roundSpan<T>(round: number, fn: (span: Span) => Promise<T>): Promise<T>;
  /** Flushes pending spans and stops exporting. */
  shutdown(): Promise<void>;
}

interface SessionContext {
  readonly span: Span;
  readonly protocol: string;
}

/** A span that records nothing, handed to callbacks when tracing is off. */
const NON_RECORDING: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Attributes worth keeping from a failure: its stable code and, for aborts, the culprits. */
function errorAttributes(e: unknown): Attributes {
  if (typeof e !== 'object' || e === null) return {};
  const attrs: Attributes = {};
  const { code, culprits } = e as { code?: unknown; culprits?: unknown };
  if (typeof code === 'string') attrs[ATTR_ERROR_CODE] = code;
  if (Array.isArray(culprits) && culprits.every((c) => Number.isSafeInteger(c))) attrs[ATTR_CULPRITS] = culprits as number[];
  return attrs;
}

/** Runs fn in span, recording a thrown error as an exception event and error status; ends the span. */
async function within<T>(span: Span, fn: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await fn(span);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    span.recordException(err);
    span.setAttributes(errorAttributes(e));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err.name });
    throw e;
  } finally {
    span.end();
  }
}

function assertOptions(opts: TracingOptions): void {
  if (typeof opts.serviceName !== 'string' || opts.serviceName.length === 0) throw new TracingConfigError('serviceName must be a non-empty string');
  if (!Number.isSafeInteger(opts.party) || opts.party < 1) throw new TracingConfigError('party must be a positive integer');
  if (opts.otlpEndpoint === undefined) return;
  let url: URL;
  try {
    url = new URL(opts.otlpEndpoint);
  } catch {
    throw new TracingConfigError('otlpEndpoint is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TracingConfigError('otlpEndpoint must be an http(s) URL');
}

/** The node's tracing: an OTLP/HTTP exporter when `otlpEndpoint` is set, otherwise nothing. */
export function createTracing(opts: TracingOptions): Tracing {
  assertOptions(opts);
  if (opts.otlpEndpoint === undefined) {
    return {
      enabled: false,
      sessionSpan: (_protocol, _sid, fn) => fn(NON_RECORDING),
      roundSpan: (_round, fn) => fn(NON_RECORDING),
      shutdown: async () => {},
    };
  }

  const exporter = new OTLPTraceExporter({ url: `${opts.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`, timeoutMillis: EXPORT_TIMEOUT_MS });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName, [ATTR_PARTY]: opts.party }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer: Tracer = provider.getTracer(TRACER_NAME);
  const current = new AsyncLocalStorage<SessionContext>();

  return {
    enabled: true,

    sessionSpan(protocol, sidHex, fn) {
      // A session is the root of its trace even when started from inside another session's work.
      const span = tracer.startSpan(`${protocol} session`, { attributes: { [ATTR_PROTOCOL]: protocol, [ATTR_SID]: sidHex, [ATTR_PARTY]: opts.party } }, ROOT_CONTEXT);
      return current.run({ span, protocol }, () => within(span, fn));
    },

    roundSpan(round, fn) {
      const session = current.getStore();
      const parent = session === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, session.span);
      const name = session === undefined ? `round ${round}` : `${session.protocol} round ${round}`;
      const attributes: Attributes = { [ATTR_ROUND]: round, [ATTR_PARTY]: opts.party };
      if (session !== undefined) attributes[ATTR_PROTOCOL] = session.protocol;
      const span = tracer.startSpan(name, { attributes }, parent);
      return within(span, fn);
    },

    shutdown: () => provider.shutdown(),
  };
}

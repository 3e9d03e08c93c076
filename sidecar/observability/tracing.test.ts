/**
 * Tests of the node's tracing (DESIGN §4 "Observability") against a local HTTP server standing
 * in for an OTLP collector: it records every request it gets.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTracing } from './tracing.ts';

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
  events?: { name: string }[];
}

let requests: Recorded[];
let server: http.Server;
let endpoint: string;

beforeEach(async () => {
  requests = [];
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      requests.push({ method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Every span in the recorded exports (JSON encoding), or the raw bodies when protobuf. */
function exportedSpans(): OtlpSpan[] {
  const spans: OtlpSpan[] = [];
  for (const r of requests) {
    const doc = JSON.parse(r.body.toString('utf8')) as { resourceSpans: { resource?: unknown; scopeSpans: { spans: OtlpSpan[] }[] }[] };
    for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
  }
  return spans;
}

function attr(span: OtlpSpan, key: string): unknown {
  const v = span.attributes?.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : Object.values(v)[0];
}

describe('createTracing', () => {
  it('exports a session span with its round spans as children to <endpoint>/v1/traces on shutdown', async () => {
    const tracing = createTracing({ serviceName: 'vilna-mpc-test', party: 2, otlpEndpoint: endpoint });
    expect(tracing.enabled).toBe(true);
    const sid = 'ab'.repeat(32);
    const result = await tracing.sessionSpan('presign', sid, async () => {
      await tracing.roundSpan(1, async () => {});
      await tracing.roundSpan(2, async () => {});
      return 42;
    });
    expect(result).toBe(42);
    await tracing.shutdown();

    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) {
      expect(r.method).toBe('POST');
      expect(r.path).toBe('/v1/traces');
    }
    // The HTTP exporter sends OTLP/JSON; a protobuf body would fail this parse, telling us to decode differently.
    expect(requests[0]!.contentType).toContain('application/json');
    const spans = exportedSpans();
    const session = spans.find((s) => s.name === 'presign session');
    const rounds = spans.filter((s) => s.name.startsWith('presign round '));
    expect(session).toBeDefined();
    expect(rounds.map((s) => s.name).sort()).toEqual(['presign round 1', 'presign round 2']);
    for (const r of rounds) {
      expect(r.traceId).toBe(session!.traceId);
      expect(r.parentSpanId).toBe(session!.spanId);
    }
    expect(attr(session!, 'vilna.protocol')).toBe('presign');
    expect(attr(session!, 'vilna.sid')).toBe(sid);
    expect(Number(attr(session!, 'vilna.party'))).toBe(2);
    expect(Number(attr(rounds[0]!, 'vilna.round'))).toBeGreaterThan(0);
    const body = requests.map((r) => r.body.toString('utf8')).join('');
    expect(body).toContain('"service.name"');
    expect(body).toContain('vilna-mpc-test');
  });

  it('records a failed session as an exception with error status, its code and culprits, and rethrows', async () => {
    const tracing = createTracing({ serviceName: 'vilna-mpc-test', party: 1, otlpEndpoint: `${endpoint}/` });
    const abort = Object.assign(new Error('presign round 3: bad proof (party 3)'), { name: 'ProtocolAbort', code: 'E_PROTOCOL_ABORT', culprits: [3] });
    await expect(
      tracing.sessionSpan('presign', 'cd'.repeat(32), async () => {
        await tracing.roundSpan(3, () => Promise.reject(abort));
      }),
    ).rejects.toBe(abort);
    await tracing.shutdown();
    expect(requests.every((r) => r.path === '/v1/traces')).toBe(true);
    const spans = exportedSpans();
    const session = spans.find((s) => s.name === 'presign session')!;
    const round = spans.find((s) => s.name === 'presign round 3')!;
    for (const s of [session, round]) {
      expect(s.status?.code).toBe(2); // STATUS_CODE_ERROR in OTLP
      expect(s.events?.map((e) => e.name)).toContain('exception');
      expect(attr(s, 'vilna.error.code')).toBe('E_PROTOCOL_ABORT');
    }
    expect(JSON.stringify(session.attributes)).toContain('vilna.culprits');
  });

  it('sends nothing and only runs the function when no endpoint is configured', async () => {
    // Even the standard OTel variable pointing at the recorder must not turn exporting on.
    const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
    try {
      const tracing = createTracing({ serviceName: 'vilna-mpc-test', party: 1 });
      expect(tracing.enabled).toBe(false);
      const out = await tracing.sessionSpan('sign', 'ef'.repeat(32), async (span) => {
        expect(span.isRecording()).toBe(false);
        return tracing.roundSpan(1, async () => 'signed');
      });
      expect(out).toBe('signed');
      await expect(tracing.sessionSpan('sign', 'ef'.repeat(32), () => Promise.reject(new Error('x')))).rejects.toThrow('x');
      await tracing.shutdown();
      await new Promise((r) => setTimeout(r, 200));
      expect(requests).toHaveLength(0);
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
    }
  });

  it('rejects a malformed configuration with E_TRACING_CONFIG', () => {
    expect(() => createTracing({ serviceName: '', party: 1 })).toThrow(expect.objectContaining({ code: 'E_TRACING_CONFIG' }));
    expect(() => createTracing({ serviceName: 's', party: 0 })).toThrow(expect.objectContaining({ code: 'E_TRACING_CONFIG' }));
    expect(() => createTracing({ serviceName: 's', party: 1, otlpEndpoint: 'collector:4318' })).toThrow(expect.objectContaining({ code: 'E_TRACING_CONFIG' }));
    expect(() => createTracing({ serviceName: 's', party: 1, otlpEndpoint: 'ftp://collector' })).toThrow(expect.objectContaining({ code: 'E_TRACING_CONFIG' }));
  });
});

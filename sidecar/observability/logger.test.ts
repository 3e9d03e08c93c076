/**
 * Tests of the node's JSON logger (DESIGN §4 "Observability"): fields every line carries, and
 * that secret-bearing fields and error causes never reach the output.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { VaultError } from '../vault/errors.ts';
import { createLogger, REDACTED, serializeError, sessionLogger } from './logger.ts';

/** A destination that keeps every line written to it. */
function capture(): { stream: Writable; lines: () => Record<string, unknown>[]; raw: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return {
    stream,
    raw: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A distinctive secret-looking value whose absence from the output can be checked. */
const secretValue = (): string => randomBytes(16).toString('hex');

describe('createLogger', () => {
  it('writes JSON lines with level name, ISO time, party, and protocol and sid from session loggers', () => {
    const out = capture();
    const log = createLogger({ party: 3, level: 'info', destination: out.stream });
    sessionLogger(log, 'keygen', 'ab'.repeat(32)).info({ round: 2 }, 'round complete');
    log.debug('not at this level');
    const lines = out.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', party: 3, protocol: 'keygen', sid: 'ab'.repeat(32), round: 2, msg: 'round complete' });
    expect(String(lines[0]!.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('censors secret-bearing fields at the top level and nested, and the authorization header', () => {
    const out = capture();
    const log = createLogger({ party: 1, level: 'info', destination: out.stream });
    const values = Array.from({ length: 9 }, secretValue);
    log.info(
      {
        secret: values[0],
        share: { x_i: values[1] },
        key: { privateKey: values[2] },
        hsm: { pin: values[3] },
        client: { auth: { token: values[4] } },
        req: { method: 'POST', url: '/v1/keys/k1/signatures', headers: { authorization: `Bearer ${values[5]}`, cookie: values[6], host: 'party-1' } },
        shares: [values[7]],
        keyId: 'k1',
        epoch: 4,
      },
      'request',
    );
    sessionLogger(log, 'sign', 'cd'.repeat(32)).warn({ vault: { password: values[8] } }, 'odd');
    const raw = out.raw();
    for (const v of values) expect(raw).not.toContain(v!);
    const [first, second] = out.lines();
    expect(first).toMatchObject({
      secret: REDACTED,
      share: REDACTED,
      key: { privateKey: REDACTED },
      hsm: { pin: REDACTED },
      client: { auth: { token: REDACTED } },
      req: { method: 'POST', headers: { authorization: REDACTED, cookie: REDACTED, host: 'party-1' } },
      shares: REDACTED,
      keyId: 'k1',
      epoch: 4,
    });
    expect(second).toMatchObject({ vault: { password: REDACTED }, protocol: 'sign' });
  });

  it('logs errors by type, code, message and frames, and keeps only type and code of causes', () => {
    const out = capture();
    const log = createLogger({ party: 2, level: 'info', destination: out.stream });
    const leaked = secretValue();
    const cause = Object.assign(new SyntaxError(`Unexpected token in "${leaked}"`), { code: 'ERR_PARSE', input: leaked });
    const err = new VaultError('E_BLOB_INVALID', 'unseal k1/3: authentication failed', { ckr: 'CKR_ENCRYPTED_DATA_INVALID', cause });
    log.error({ err }, 'unseal failed');
    log.error(new VaultError('E_HSM_PIN', 'login refused', { cause: new Error(leaked) }));
    const raw = out.raw();
    expect(raw).not.toContain(leaked);
    const [first, second] = out.lines();
    expect(first!.err).toMatchObject({
      type: 'VaultError',
      code: 'E_BLOB_INVALID',
      ckr: 'CKR_ENCRYPTED_DATA_INVALID',
      message: 'E_BLOB_INVALID: unseal k1/3: authentication failed',
      cause: { type: 'SyntaxError', code: 'ERR_PARSE' },
    });
    expect(Object.keys((first!.err as { cause: object }).cause).sort()).toEqual(['code', 'type']);
    expect(String((first!.err as { stack: string }).stack)).toMatch(/^\s+at /);
    expect(second!.err).toMatchObject({ type: 'VaultError', code: 'E_HSM_PIN', cause: { type: 'Error' } });
  });

  it('rejects an unknown level or a party that is not a positive integer with E_LOGGER_CONFIG', () => {
    expect(() => createLogger({ party: 1, level: 'verbose' as never })).toThrow(expect.objectContaining({ code: 'E_LOGGER_CONFIG' }));
    expect(() => createLogger({ party: 0, level: 'info' })).toThrow(expect.objectContaining({ code: 'E_LOGGER_CONFIG' }));
  });
});

describe('serializeError', () => {
  it('keeps public abort fields and stops following causes after a few levels', () => {
    const abort = Object.assign(new Error('presign round 3: bad proof (party 2)'), { name: 'ProtocolAbort', code: 'E_PROTOCOL_ABORT', protocol: 'presign', round: 3, culprits: [2], evidence: { secret: 'x' } });
    let chain: Error = new Error('root');
    for (let i = 0; i < 10; i++) chain = new Error(`level ${i}`, { cause: chain });
    abort.cause = chain;
    const s = serializeError(abort);
    expect(s).toMatchObject({ type: 'ProtocolAbort', code: 'E_PROTOCOL_ABORT', protocol: 'presign', round: 3, culprits: [2] });
    expect(s).not.toHaveProperty('evidence');
    let depth = 0;
    for (let c = s.cause; c !== undefined; c = c.cause) depth++;
    expect(depth).toBe(4);
    expect(serializeError('a string')).toEqual({ type: 'string', message: 'non-Error value thrown' });
  });
});

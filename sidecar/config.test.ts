/** The node configuration's proof-worker setting: absent, from the file, from VILNA_PROOF_WORKERS, refused when wrong. */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseNodeConfig } from './config.ts';

const base = {
  party: { name: 'eu', index: 1, stateDir: 'state' },
  hsm: { module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'eu', pinFile: 'pin' },
  approvers: { keys: ['11'.repeat(32)], quorum: 1 },
  tls: { caFile: 'ca.pem', certFile: 'cert.pem', keyFile: 'key.pem' },
  listen: { peer: { host: '127.0.0.1', port: 8443 }, api: { host: '127.0.0.1', port: 8080 } },
};

describe('proofWorkers', () => {
  it('is absent by default (one worker per core), and taken from the file or the environment', () => {
    expect(parseNodeConfig(base, {}, '/').proofWorkers).toBeUndefined();
    expect(parseNodeConfig({ ...base, proofWorkers: 0 }, {}, '/').proofWorkers).toBe(0);
    expect(parseNodeConfig({ ...base, proofWorkers: 2 }, { VILNA_PROOF_WORKERS: '4' }, '/').proofWorkers).toBe(4);
  });

  it('refuses a count that is not an integer in [0, 16]', () => {
    for (const v of ['-1', '17', 'two', '1.5']) {
      expect(() => parseNodeConfig(base, { VILNA_PROOF_WORKERS: v }, '/')).toThrow(ConfigError);
    }
    expect(() => parseNodeConfig({ ...base, proofWorkers: 17 }, {}, '/')).toThrow(/proofWorkers/);
  });
});

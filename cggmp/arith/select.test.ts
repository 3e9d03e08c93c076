/** Backend selection from VILNA_MPC_ARITH. */
import { describe, expect, it } from 'vitest';

import { CggmpError } from '../errors.ts';
import type { ArithBackend, BackendName } from './backend.ts';
import { ARITH_ENV_VAR, chooseBackend, getBackend, loadBackend } from './select.ts';

const fake = (name: BackendName): ArithBackend => ({ name }) as ArithBackend;
const unavailable = (): never => {
  throw new CggmpError('E_BACKEND_UNAVAILABLE', 'addon missing');
};
const withoutNative = (name: BackendName): ArithBackend => (name === 'native' ? unavailable() : fake(name));

describe('chooseBackend', () => {
  it('js forces the BigInt backend even when the addon loads', () => {
    expect(chooseBackend('js', fake).name).toBe('js');
  });

  it('native requires the addon', () => {
    expect(chooseBackend('native', fake).name).toBe('native');
    expect(() => chooseBackend('native', withoutNative)).toThrow(CggmpError);
    try {
      chooseBackend('native', withoutNative);
    } catch (e) {
      expect((e as CggmpError).code).toBe('E_BACKEND_UNAVAILABLE');
    }
  });

  it('unset prefers the addon and falls back to BigInt when it cannot load', () => {
    expect(chooseBackend(undefined, fake).name).toBe('native');
    expect(chooseBackend(undefined, withoutNative).name).toBe('js');
    expect(chooseBackend('', withoutNative).name).toBe('js');
  });

  it('unset does not hide an unexpected failure of the addon', () => {
    const broken = (name: BackendName): ArithBackend => {
      if (name === 'native') throw new Error('segfault-adjacent');
      return fake(name);
    };
    expect(() => chooseBackend(undefined, broken)).toThrow('segfault-adjacent');
  });

  it('rejects any other value', () => {
    expect(() => chooseBackend('openssl', fake)).toThrow(`${ARITH_ENV_VAR} must be "native" or "js"`);
  });
});

describe('getBackend / loadBackend', () => {
  it('getBackend follows the environment and returns the same instance every time', () => {
    const expected = process.env[ARITH_ENV_VAR] === 'js' ? 'js' : 'native';
    expect(getBackend().name).toBe(expected);
    expect(getBackend()).toBe(getBackend());
  });

  it('loadBackend returns one cached instance per name', () => {
    expect(loadBackend('js')).toBe(loadBackend('js'));
    expect(loadBackend('native')).toBe(loadBackend('native'));
    expect(loadBackend('native').name).toBe('native');
  });

  it('loadBackend refuses an unknown name', () => {
    expect(() => loadBackend('gmp' as BackendName)).toThrow(CggmpError);
  });
});

import { describe, expect, it } from 'vitest';
import { ContractError } from './canonical.ts';
import { defaultPolicy, parseDerivationPath, parsePolicy, pathAllowed, policyHash, withinRateLimits, withinTimeWindow, type Policy } from './policy.ts';

const policy = (p: Partial<Policy>): Policy => parsePolicy({ version: 1, allowedPaths: [], ...p });

function refusal(v: unknown): string {
  try {
    parsePolicy(v);
  } catch (e) {
    expect((e as ContractError).code).toBe('E_POLICY_INVALID');
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('derivation paths', () => {
  it('parses canonical non-hardened paths', () => {
    expect(parseDerivationPath('m')).toEqual([]);
    expect(parseDerivationPath('m/44/60/0/0/7')).toEqual([44, 60, 0, 0, 7]);
    expect(parseDerivationPath('m/2147483647')).toEqual([2147483647]);
  });

  it('refuses hardened, non-canonical and malformed paths', () => {
    for (const p of ["m/0'", 'm/0h', 'm/2147483648', 'm/01', 'm/', 'm//0', '0/1', 'M/0', 'm/ 1', 'm/-1', 'm/*', 'm' + '/0'.repeat(256)]) {
      expect(parseDerivationPath(p), p).toBeUndefined();
    }
  });
});

describe('pathAllowed', () => {
  const p = policy({ allowedPaths: ['m', 'm/0/*', 'm/44/60/0/0/*'] });

  it('lets "*" match exactly one non-hardened index at its position', () => {
    expect(pathAllowed(p, 'm/0/7')).toBe(true);
    expect(pathAllowed(p, 'm/0/2147483647')).toBe(true);
    expect(pathAllowed(p, 'm/44/60/0/0/3')).toBe(true);
  });

  it('matches only paths of the pattern depth', () => {
    expect(pathAllowed(p, 'm')).toBe(true);
    expect(pathAllowed(p, 'm/0')).toBe(false);
    expect(pathAllowed(p, 'm/0/7/1')).toBe(false);
    expect(pathAllowed(p, 'm/1/7')).toBe(false);
  });

  it('refuses hardened or malformed paths even under a wildcard', () => {
    expect(pathAllowed(p, "m/0/7'")).toBe(false);
    expect(pathAllowed(p, 'm/0/2147483648')).toBe(false);
    expect(pathAllowed(p, 'm/0/07')).toBe(false);
    expect(pathAllowed(p, 'm/0/*')).toBe(false);
  });

  it('allows nothing with an empty list', () => {
    expect(pathAllowed(policy({ allowedPaths: [] }), 'm')).toBe(false);
  });

  it('by default signs for no path at all: a key needs an approved policy first', () => {
    const d = defaultPolicy();
    expect(parsePolicy(d)).toEqual(d);
    for (const path of ['m', 'm/0', 'm/1/2', 'm/1/2/3', 'm/2147483647/0/0/9']) expect(pathAllowed(d, path), path).toBe(false);
  });
});

describe('policy schema', () => {
  it('refuses bad patterns, naming the entry', () => {
    expect(refusal({ version: 1, allowedPaths: ['m/**'] })).toMatch(/allowedPaths\[0\]/);
    expect(refusal({ version: 1, allowedPaths: ['m', "m/0'/*"] })).toMatch(/allowedPaths\[1\]/);
    expect(refusal({ version: 1, allowedPaths: ['m/*/'] })).toMatch(/allowedPaths\[0\]/);
  });

  it('refuses another version, unknown fields and non-positive rate limits', () => {
    expect(refusal({ version: 2, allowedPaths: [] })).toMatch(/version/);
    expect(refusal({ version: 1, allowedPaths: [], extra: 1 })).toMatch(/extra/);
    expect(refusal({ version: 1, allowedPaths: [], rateLimits: { perMinute: 0 } })).toMatch(/rateLimits\.perMinute/);
    expect(refusal({ version: 1, allowedPaths: [], rateLimits: { perDay: 5 } })).toMatch(/perDay/);
    expect(refusal({ version: 1, allowedPaths: [], requiredApprovals: { quorum: 0 } })).toMatch(/requiredApprovals\.quorum/);
  });

  it('refuses time windows that end before they start, repeat a day, or name no day', () => {
    expect(refusal({ version: 1, allowedPaths: [], timeWindows: [{ days: ['mon'], from: '17:00', to: '09:00' }] })).toMatch(/later than from/);
    expect(refusal({ version: 1, allowedPaths: [], timeWindows: [{ days: ['mon', 'mon'], from: '09:00', to: '17:00' }] })).toMatch(/repeat/);
    expect(refusal({ version: 1, allowedPaths: [], timeWindows: [{ days: [], from: '09:00', to: '17:00' }] })).toMatch(/days/);
    expect(refusal({ version: 1, allowedPaths: [], timeWindows: [{ days: ['mon'], from: '9:00', to: '17:00' }] })).toMatch(/HH:MM/);
    expect(refusal({ version: 1, allowedPaths: [], timeWindows: [{ days: ['mon'], from: '24:00', to: '24:00' }] })).toMatch(/only an end|later/);
    expect(refusal({ version: 1, allowedPaths: [], timeWindows: [] })).toMatch(/timeWindows/);
  });

  it('refuses an explicit undefined for an optional field (it has no canonical form)', () => {
    expect(refusal({ version: 1, allowedPaths: [], rateLimits: undefined })).toMatch(/rateLimits/);
  });

  it('hashes equal policies equally and different ones differently', () => {
    const a = policy({ allowedPaths: ['m/0/*'], rateLimits: { perMinute: 5 } });
    expect(policyHash(a)).toEqual(policyHash({ rateLimits: { perMinute: 5 }, allowedPaths: ['m/0/*'], version: 1 }));
    expect(policyHash(a)).not.toEqual(policyHash(policy({ allowedPaths: ['m/0/*'], rateLimits: { perMinute: 6 } })));
  });
});

describe('withinTimeWindow', () => {
  const p = policy({ allowedPaths: ['m'], timeWindows: [{ days: ['mon', 'tue'], from: '09:00', to: '17:00' }, { days: ['sun'], from: '22:00', to: '24:00' }] });
  // 2026-05-04 is a Monday.
  const at = (iso: string): boolean => withinTimeWindow(p, new Date(iso));

  it('includes from and excludes to, in UTC', () => {
    expect(at('2026-05-04T09:00:00Z')).toBe(true);
    expect(at('2026-05-04T16:59:59Z')).toBe(true);
    expect(at('2026-05-04T17:00:00Z')).toBe(false);
    expect(at('2026-05-04T08:59:59Z')).toBe(false);
    expect(at('2026-05-04T10:00:00+02:00')).toBe(false); // 08:00 UTC
    expect(at('2026-05-04T11:00:00+02:00')).toBe(true); // 09:00 UTC
  });

  it('reads the day in UTC, not local time', () => {
    expect(at('2026-05-05T12:00:00Z')).toBe(true); // Tuesday
    expect(at('2026-05-06T12:00:00Z')).toBe(false); // Wednesday
    expect(at('2026-05-03T23:59:00Z')).toBe(true); // Sunday, up to 24:00
    expect(at('2026-05-04T00:00:00Z')).toBe(false); // Monday 00:00
  });

  it('refuses an invalid date', () => {
    expect(withinTimeWindow(p, new Date(Number.NaN))).toBe(false);
  });
});

describe('withinRateLimits', () => {
  const now = new Date('2026-05-04T12:00:00Z');
  const t = now.getTime();

  it('counts the last 60 s and the last hour, sliding', () => {
    const p = policy({ allowedPaths: ['m'], rateLimits: { perMinute: 2, perHour: 3 } });
    expect(withinRateLimits(p, [], now)).toBe(true);
    expect(withinRateLimits(p, [t - 1000], now)).toBe(true);
    expect(withinRateLimits(p, [t - 1000, t - 2000], now)).toBe(false);
    expect(withinRateLimits(p, [t - 60_000, t - 2000], now)).toBe(true);
    expect(withinRateLimits(p, [t - 3_000_000, t - 120_000, t - 2000], now)).toBe(false);
    expect(withinRateLimits(p, [t - 3_600_000, t - 120_000, t - 2000], now)).toBe(true);
  });
});

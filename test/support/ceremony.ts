/**
 * A complete key in the simulator, for protocol tests: keygen, then aux-info on fixture primes,
 * each over its own simulated session, every party's share completed with its aux data.
 */
import { auxInfo } from '../../cggmp/protocols/aux-info.ts';
import { keygen } from '../../cggmp/protocols/keygen.ts';
import { withAux, type KeyShare } from '../../cggmp/protocols/key-share.ts';
import type { SecurityLevel } from '../../cggmp/params.ts';
import { runSession, simGroup, type Outcome, type SimGroup } from '../../cggmp/sim/run.ts';
import { fixturePrimeSource } from './primes.ts';

export function unwrap<T>(outcomes: Map<number, Outcome<T>>): Map<number, T> {
  return new Map(
    [...outcomes].map(([p, o]) => {
      if (!o.ok) throw o.error;
      return [p, o.value] as const;
    }),
  );
}

export interface SimKey {
  readonly group: SimGroup;
  readonly parties: readonly number[];
  readonly shares: Map<number, KeyShare>;
}

export async function simKey(level: SecurityLevel, n: number, t: number): Promise<SimKey> {
  const parties = Array.from({ length: n }, (_, i) => i + 1);
  const group = simGroup(parties);
  const base = unwrap(await runSession({ protocol: 'keygen', group, parties }, (s) => keygen(s, { keyId: 'test-key', threshold: t })));
  const primes = fixturePrimeSource();
  const aux = unwrap(await runSession({ protocol: 'aux-info', group, parties }, (s) => auxInfo(s, { level, primes })));
  return { group, parties, shares: new Map(parties.map((p) => [p, withAux(base.get(p)!, aux.get(p)!)] as const)) };
}

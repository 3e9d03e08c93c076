/**
 * Counts the modular exponentiations one party performs in aux-info, presign and sign (issue 11
 * item 3). Run as its own process (`node bench/modexp-count-run.ts [--parties 3]`): it installs
 * the counting backend (test/support/counting-hooks.ts) before importing cggmp/, runs every
 * party of an in-process group at SECURITY_LEVEL_128 with primes from the committed fixtures,
 * and prints one JSON object: for each phase and party, counts keyed "step|kind|modulus"
 * (counting rules in test/support/counting-backend.ts).
 */
import { parseArgs } from 'node:util';
import type { OpRecord } from '../test/support/counting-backend.ts';
import { installCountingBackend } from '../test/support/counting-hooks.ts';

installCountingBackend();

const { CURVE_ORDER } = await import('../cggmp/curve/index.ts');
const { SECURITY_LEVEL_128: L } = await import('../cggmp/params.ts');
const { auxInfo } = await import('../cggmp/protocols/aux-info.ts');
const { keygen } = await import('../cggmp/protocols/keygen.ts');
const { withAux } = await import('../cggmp/protocols/key-share.ts');
const { presign } = await import('../cggmp/protocols/presign.ts');
const { sign } = await import('../cggmp/protocols/sign.ts');
const { runSession, simGroup } = await import('../cggmp/sim/run.ts');
const { fixturePrimeSource } = await import('../test/support/primes.ts');
const counting = await import('../test/support/counting-backend.ts');
const { getBackend } = await import('../cggmp/arith/index.ts');

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

function unwrap<T>(m: Map<number, Outcome<T>>): Map<number, T> {
  return new Map(
    [...m].map(([p, o]) => {
      if (!o.ok) throw o.error;
      return [p, o.value] as const;
    }),
  );
}

/** Counts keyed "step|kind|modulus", per party. */
export type PhaseCounts = Record<string, Record<string, number>>;

function tally(records: readonly OpRecord[]): PhaseCounts {
  const out: PhaseCounts = {};
  for (const r of records) {
    const party = String(r.party ?? 'unattributed');
    const key = `${r.step}|${r.kind}|${counting.classify(r.m)}`;
    const row = (out[party] ??= {});
    row[key] = (row[key] ?? 0) + 1;
  }
  return out;
}

const { values } = parseArgs({ options: { parties: { type: 'string', default: '3' } } });
const n = Number(values.parties);
if (!Number.isInteger(n) || n < 2) throw new Error('--parties must be an integer ≥ 2');

const parties = Array.from({ length: n }, (_, i) => i + 1);
const group = simGroup(parties);
const primes = fixturePrimeSource();
counting.nameModulus(CURVE_ORDER, 'q');

const base = unwrap(await runSession({ protocol: 'keygen', group, parties }, (s) => keygen(s, { keyId: 'modexp-count', threshold: 2 })));

// Aux-info, key generation from pooled primes included (spec Round 1 makes s = t^λ).
counting.startRecording();
const aux = unwrap(
  await runSession({ protocol: 'aux-info', group, parties }, (s) =>
    counting.attribute(s.params.self, 'aux-info', () => auxInfo(s, { level: L, primes })),
  ),
);
const auxRecords = counting.stopRecording();
for (const out of aux.values()) {
  for (const a of out.aux) {
    counting.nameModulus(a.N, 'N');
    counting.nameModulus(a.N * a.N, 'N²');
    counting.nameModulus(a.R.N, 'N̂');
  }
  break;
}
const shares = new Map(parties.map((p) => [p, withAux(base.get(p)!, aux.get(p)!)] as const));

// Presign with every party a signer, then sign with that presignature.
counting.startRecording();
const presigs = unwrap(
  await runSession({ protocol: 'presign', group, parties }, (s) =>
    counting.attribute(s.params.self, 'presign', () => presign(s, { level: L, share: shares.get(s.params.self)! })),
  ),
);
const presignRecords = counting.stopRecording();

const sid = presigs.get(parties[0]!)!.binding.sid;
const message = new TextEncoder().encode('modexp-count');
counting.startRecording();
unwrap(
  await runSession({ protocol: 'sign', group, parties, sid }, (s) =>
    counting.attribute(s.params.self, 'sign', () => sign(s, presigs.get(s.params.self)!, { message, hash: 'sha256' })),
  ),
);
const signRecords = counting.stopRecording();

// Moduli are named once aux-info has made them; records are classified here, at the end.
console.log(
  JSON.stringify({
    parties: n,
    level: L.name,
    backend: getBackend().name,
    phases: {
      'aux-info': tally(auxRecords),
      presign: tally(presignRecords),
      sign: tally(signRecords),
    },
  }),
);

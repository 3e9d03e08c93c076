/**
 * Chooses the arithmetic backend (DESIGN §3 "Arithmetic engine").
 *
 * This is the only module in cggmp/ that reads process.env: VILNA_MPC_ARITH=js forces the pure
 * BigInt backend, VILNA_MPC_ARITH=native requires the addon (CggmpError E_BACKEND_UNAVAILABLE if
 * it cannot be loaded), unset or empty takes the addon when it loads and the BigInt backend
 * otherwise. Callers that must not run on variable-time arithmetic check `constantTime`.
 */
import { CggmpError } from '../errors.ts';
import type { ArithBackend, BackendName } from './backend.ts';
import { jsBackend } from './js-backend.ts';
import { loadNativeBackend } from './native-backend.ts';

/** The environment variable read once by getBackend(). */
export const ARITH_ENV_VAR = 'VILNA_MPC_ARITH';

const loaded = new Map<BackendName, ArithBackend>();
let selected: ArithBackend | undefined;

/** A specific backend (tests, benchmarks); throws CggmpError E_BACKEND_UNAVAILABLE if native cannot load. */
export function loadBackend(name: BackendName): ArithBackend {
  let backend = loaded.get(name);
  if (backend === undefined) {
    if (name === 'js') backend = jsBackend;
    else if (name === 'native') backend = loadNativeBackend();
    else throw new CggmpError('E_BACKEND_UNAVAILABLE', `unknown arithmetic backend ${JSON.stringify(name)}`);
    loaded.set(name, backend);
  }
  return backend;
}

/** The selection rule, given the variable's value and a loader. */
export function chooseBackend(
  setting: string | undefined,
  load: (name: BackendName) => ArithBackend,
): ArithBackend {
  switch (setting) {
    case 'js':
    case 'native':
      return load(setting);
    case undefined:
    case '':
      try {
        return load('native');
      } catch (e) {
        if (e instanceof CggmpError && e.code === 'E_BACKEND_UNAVAILABLE') return load('js');
        throw e;
      }
    default:
      throw new CggmpError(
        'E_BACKEND_UNAVAILABLE',
        `${ARITH_ENV_VAR} must be "native" or "js" (or unset), got ${JSON.stringify(setting)}`,
      );
  }
}

/** The process-wide backend, chosen on first use from VILNA_MPC_ARITH. */
export function getBackend(): ArithBackend {
  selected ??= chooseBackend(process.env[ARITH_ENV_VAR], loadBackend);
  return selected;
}

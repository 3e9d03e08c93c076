/**
 * ArithBackend over the native addon (cggmp/arith/native): OpenSSL's BN functions as exported by
 * the running node binary. modPowSecret is constant-time in the exponent
 * (BN_mod_exp_mont_consttime); modInverse uses OpenSSL's branch-free Euclid.
 *
 * The addon reports bad arguments as Errors with an ERR_VILNA_ARITH_* code; they are rethrown
 * here as ArithError so that both backends fail the same way. TypeErrors pass through.
 */
import { createRequire } from 'node:module';

import { ArithError, CggmpError } from '../errors.ts';
import type { ArithBackend, FixedBaseTable } from './backend.ts';
import { tableWindowBits } from './fixed-base-window.ts';

/** Where scripts/build-native.mjs puts the addon, relative to this file. */
const ADDON_PATH = './native/build/Release/vilna_arith.node';
/** Must equal VA_ABI_VERSION in native/vilna_arith.c; a mismatch means a stale build. */
const ADDON_ABI_VERSION = 1;
const BUILD_HINT = 'build it with `npx node scripts/build-native.mjs` (needs a C compiler and python3)';

declare const tableBrand: unique symbol;
/** Opaque handle to a native table (a type-tagged Node-API external). */
type NativeTable = { readonly [tableBrand]: true };

interface Addon {
  readonly abiVersion: number;
  modPow(base: bigint, exp: bigint, m: bigint): bigint;
  modPowSecret(base: bigint, exp: bigint, m: bigint): bigint;
  modPow2(a: bigint, x: bigint, b: bigint, y: bigint, m: bigint): bigint;
  modInverse(a: bigint, m: bigint): bigint;
  tableNew(s: bigint, t: bigint, m: bigint, maxExpBits: number, windowBits: number): NativeTable;
  tablePow2(table: NativeTable, x: bigint, y: bigint): bigint;
}

function toArithError(e: unknown): unknown {
  if (e instanceof TypeError || !(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_VILNA_ARITH_') ? new ArithError(e.message) : e;
}

function loadAddon(): Addon {
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch (e) {
    const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new CggmpError('E_BACKEND_UNAVAILABLE', `native arithmetic addon cannot be loaded (${reason}); ${BUILD_HINT}`);
  }
  if (addon.abiVersion !== ADDON_ABI_VERSION) {
    throw new CggmpError(
      'E_BACKEND_UNAVAILABLE',
      `native arithmetic addon is a stale build (ABI ${String(addon.abiVersion)}, expected ${ADDON_ABI_VERSION}); ${BUILD_HINT}`,
    );
  }
  return addon;
}

/** Loads the addon and returns the backend; throws CggmpError E_BACKEND_UNAVAILABLE if it cannot. */
export function loadNativeBackend(): ArithBackend {
  const addon = loadAddon();
  const fixedBaseTable = (s: bigint, t: bigint, m: bigint, maxExpBits: number): FixedBaseTable => {
    let table: NativeTable;
    try {
      table = addon.tableNew(s, t, m, maxExpBits, tableWindowBits(maxExpBits));
    } catch (e) {
      throw toArithError(e);
    }
    return Object.freeze({
      modulus: m,
      maxExpBits,
      pow2(x: bigint, y: bigint): bigint {
        try {
          return addon.tablePow2(table, x, y);
        } catch (e) {
          throw toArithError(e);
        }
      },
    });
  };
  return Object.freeze({
    name: 'native',
    constantTime: true,
    modPow(base: bigint, exp: bigint, m: bigint): bigint {
      try {
        return addon.modPow(base, exp, m);
      } catch (e) {
        throw toArithError(e);
      }
    },
    modPowSecret(base: bigint, exp: bigint, m: bigint): bigint {
      try {
        return addon.modPowSecret(base, exp, m);
      } catch (e) {
        throw toArithError(e);
      }
    },
    modPow2(a: bigint, x: bigint, b: bigint, y: bigint, m: bigint): bigint {
      try {
        return addon.modPow2(a, x, b, y, m);
      } catch (e) {
        throw toArithError(e);
      }
    },
    modInverse(a: bigint, m: bigint): bigint {
      try {
        return addon.modInverse(a, m);
      } catch (e) {
        throw toArithError(e);
      }
    },
    fixedBaseTable,
  });
}

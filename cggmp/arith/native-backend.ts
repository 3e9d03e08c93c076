/**
 * ArithBackend over the native addon (cggmp/arith/native): OpenSSL's BN functions as exported by
 * the running node binary. modPowSecret is constant-time in the exponent
 * (BN_mod_exp_mont_consttime); modInverse uses OpenSSL's branch-free Euclid; the secret-modulus
 * contexts hold addon handles (ct_core.c) with the modulus flagged constant-time and its
 * Montgomery context built once.
 *
 * The addon reports bad arguments as Errors with an ERR_VILNA_ARITH_* code; they are rethrown
 * here as ArithError so that both backends fail the same way. TypeErrors pass through.
 */
import { createRequire } from 'node:module';

import { ArithError, CggmpError } from '../errors.ts';
import type { ArithBackend, CrtContext, FixedBaseTable, ModulusContext, PaillierContext } from './backend.ts';
import { tableWindowBits } from './fixed-base-window.ts';

/** Where scripts/build-native.mjs puts the addon, relative to this file. */
const ADDON_PATH = './native/build/Release/vilna_arith.node';
/** Must equal VA_ABI_VERSION in native/vilna_arith.c; a mismatch means a stale build. */
const ADDON_ABI_VERSION = 3;
const BUILD_HINT = 'build it with `npx node scripts/build-native.mjs` (needs a C compiler and python3)';

declare const tableBrand: unique symbol;
/** Opaque handle to a native table (a type-tagged Node-API external). */
type NativeTable = { readonly [tableBrand]: true };
declare const handleBrand: unique symbol;
/** Opaque handle to a secret modulus, CRT pair or Paillier key (type-tagged externals). */
type NativeHandle = { readonly [handleBrand]: true };

/** What the addon says of a handle (tests): its kind, how many moduli, all flagged constant-time. */
export interface NativeHandleInfo {
  readonly kind: 'modulus' | 'crt' | 'paillier';
  readonly moduli: number;
  readonly constantTime: boolean;
}

interface Addon {
  readonly abiVersion: number;
  modPow(base: bigint, exp: bigint, m: bigint): bigint;
  modPowSecret(base: bigint, exp: bigint, m: bigint): bigint;
  modPow2(a: bigint, x: bigint, b: bigint, y: bigint, m: bigint): bigint;
  modInverse(a: bigint, m: bigint): bigint;
  isCoprime(a: bigint, m: bigint): boolean;
  tableNew(s: bigint, t: bigint, m: bigint, maxExpBits: number, windowBits: number): NativeTable;
  tablePow2(table: NativeTable, x: bigint, y: bigint): bigint;
  secretModulus(n: bigint): NativeHandle;
  modReduce(h: NativeHandle, x: bigint): bigint;
  modPowSecretModulus(h: NativeHandle, base: bigint, exp: bigint): bigint;
  modMulAdd(h: NativeHandle, a: bigint, x: bigint, y: bigint): bigint;
  addModSecret(a: bigint, b: bigint, m: bigint): bigint;
  secretCrt(n1: bigint, phi1: bigint, n2: bigint, phi2: bigint): NativeHandle;
  crtPow(h: NativeHandle, base: bigint, exp: bigint): bigint;
  crtLegendre(h: NativeHandle, v: bigint): [-1 | 0 | 1, -1 | 0 | 1];
  secretPaillier(p: bigint, q: bigint): NativeHandle;
  paillierDecrypt(h: NativeHandle, C: bigint): bigint;
  paillierDecryptCentredMod(h: NativeHandle, C: bigint, q: NativeHandle): bigint;
  paillierPow(h: NativeHandle, base: bigint, exp: bigint): bigint;
  paillierNthPower(h: NativeHandle, x: bigint): bigint;
  affine(av: bigint, e: bigint, xv: bigint, xo: bigint): bigint;
  montContextsBuilt(): number;
  secretHandleInfo(h: NativeHandle): NativeHandleInfo;
}

// The handle behind each context object this backend made (tests inspect them).
const handles = new WeakMap<object, NativeHandle>();

/** The addon's description of a context made by the native backend; undefined for any other. */
export function nativeContextInfo(context: object): NativeHandleInfo | undefined {
  const h = handles.get(context);
  return h === undefined ? undefined : loadAddon().secretHandleInfo(h);
}

/** Montgomery contexts the addon has built for secret-modulus handles since it was loaded. */
export function nativeMontContextsBuilt(): number {
  return loadAddon().montContextsBuilt();
}

function toArithError(e: unknown): unknown {
  if (e instanceof TypeError || !(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_VILNA_ARITH_') ? new ArithError(e.message) : e;
}

let cachedAddon: Addon | undefined;

function loadAddon(): Addon {
  if (cachedAddon) return cachedAddon;
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
  cachedAddon = addon;
  return addon;
}

/** Calls the addon, rethrowing its ERR_VILNA_ARITH_* errors as ArithError. */
function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw toArithError(e);
  }
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
    isCoprime(a: bigint, m: bigint): boolean {
      try {
        return addon.isCoprime(a, m);
      } catch (e) {
        throw toArithError(e);
      }
    },
    fixedBaseTable,
    modulusContext(n: bigint): ModulusContext {
      const h = call(() => addon.secretModulus(n));
      const ctx: ModulusContext = Object.freeze({
        n,
        reduce: (x: bigint) => call(() => addon.modReduce(h, x)),
        pow: (base: bigint, exp: bigint) => call(() => addon.modPowSecretModulus(h, base, exp)),
        mulAdd: (a: bigint, x: bigint, y: bigint) => call(() => addon.modMulAdd(h, a, x, y)),
      });
      handles.set(ctx, h);
      return ctx;
    },
    crtContext(n1: bigint, phi1: bigint, n2: bigint, phi2: bigint): CrtContext {
      const h = call(() => addon.secretCrt(n1, phi1, n2, phi2));
      const ctx: CrtContext = Object.freeze({
        n: n1 * n2,
        pow: (base: bigint, exp: bigint) => call(() => addon.crtPow(h, base, exp)),
        legendre: (v: bigint) => call(() => addon.crtLegendre(h, v)),
      });
      handles.set(ctx, h);
      return ctx;
    },
    paillierContext(p: bigint, q: bigint): PaillierContext {
      const h = call(() => addon.secretPaillier(p, q));
      const ctx: PaillierContext = Object.freeze({
        decrypt: (C: bigint) => call(() => addon.paillierDecrypt(h, C)),
        decryptCentredMod: (C: bigint, qc: ModulusContext) => {
          const qh = handles.get(qc);
          if (qh === undefined) throw new ArithError('decryptCentredMod: the modulus context is not a native one');
          return call(() => addon.paillierDecryptCentredMod(h, C, qh));
        },
        pow: (base: bigint, exp: bigint) => call(() => addon.paillierPow(h, base, exp)),
        nthPower: (x: bigint) => call(() => addon.paillierNthPower(h, x)),
      });
      handles.set(ctx, h);
      return ctx;
    },
    addModSecret: (a: bigint, b: bigint, m: bigint) => call(() => addon.addModSecret(a, b, m)),
    affine: (av: bigint, e: bigint, xv: bigint, xo: bigint) => call(() => addon.affine(av, e, xv, xo)),
  });
}

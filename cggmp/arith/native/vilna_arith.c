/*
 * vilna_arith: modular exponentiation (public and constant-time), double exponentiation and
 * modular inverse over Node's own OpenSSL BN functions, exposed through Node-API. See
 * vilna_arith.h for the conventions shared with fixed_base.c.
 *
 * Every function validates its arguments before any OpenSSL call and reports a bad argument as a
 * thrown Error (never a crash): operands must be non-negative BigInts, Montgomery moduli odd and
 * greater than 1. Every BIGNUM and BN_CTX is freed on every path; secret operands and results
 * are wiped (BN_clear_free, OPENSSL_cleanse); BN_CTX_free wipes the context's temporaries.
 * OpenSSL's error queue is restored around each call so that a failure here never surfaces later
 * as a spurious error in node:crypto.
 */
#include "vilna_arith.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

/* Bumped whenever the JS-visible surface changes; native-backend.ts refuses a stale build. */
#define VA_ABI_VERSION 3

napi_value va_throw(napi_env env, const char *code, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL;
  if (strcmp(code, VA_E_TYPE) == 0) {
    napi_throw_type_error(env, code, msg);
  } else {
    napi_throw_error(env, code, msg);
  }
  return NULL;
}

int va_args(napi_env env, napi_callback_info info, const char *op, size_t argc, napi_value *argv) {
  size_t got = argc;
  if (napi_get_cb_info(env, info, &got, argv, NULL, NULL) != napi_ok) {
    va_throw(env, VA_E_INTERNAL, "%s: cannot read arguments", op);
    return 0;
  }
  if (got < argc) {
    va_throw(env, VA_E_TYPE, "%s: expected %zu arguments, got %zu", op, argc, got);
    return 0;
  }
  return 1;
}

/* Reads a BigInt's magnitude and sign; returns 0 after throwing. */
static int get_words_signed(napi_env env, napi_value v, const char *op, const char *name,
                            va_words *out, int *negative) {
  napi_valuetype type;
  out->words = NULL;
  out->count = 0;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_bigint) {
    va_throw(env, VA_E_TYPE, "%s: %s must be a bigint", op, name);
    return 0;
  }
  size_t count = 0;
  if (napi_get_value_bigint_words(env, v, NULL, &count, NULL) != napi_ok) {
    va_throw(env, VA_E_INTERNAL, "%s: cannot read %s", op, name);
    return 0;
  }
  if (count > VA_MAX_WORDS) {
    va_throw(env, VA_E_DOMAIN, "%s: %s is too large", op, name);
    return 0;
  }
  /* Node-API wants a valid pointer even for 0n. */
  uint64_t *words = malloc((count > 0 ? count : 1) * sizeof(uint64_t));
  if (words == NULL) {
    va_throw(env, VA_E_INTERNAL, "%s: out of memory", op);
    return 0;
  }
  int sign = 0;
  size_t got = count;
  if (napi_get_value_bigint_words(env, v, &sign, &got, words) != napi_ok || got > count) {
    OPENSSL_cleanse(words, count * sizeof(uint64_t));
    free(words);
    va_throw(env, VA_E_INTERNAL, "%s: cannot read %s", op, name);
    return 0;
  }
  while (got > 0 && words[got - 1] == 0) got--;
  out->words = words;
  out->count = got;
  *negative = sign != 0;
  return 1;
}

int va_get_words(napi_env env, napi_value v, const char *op, const char *name, va_words *out) {
  int negative = 0;
  if (!get_words_signed(env, v, op, name, out, &negative)) return 0;
  if (negative) {
    /* The magnitude of a negative operand may still be secret: wipe it. */
    va_free_words(out, VA_SECRET);
    va_throw(env, VA_E_DOMAIN, "%s: %s must be non-negative", op, name);
    return 0;
  }
  return 1;
}

void va_free_words(va_words *w, va_secrecy secrecy) {
  if (w->words == NULL) return;
  if (secrecy == VA_SECRET) OPENSSL_cleanse(w->words, w->count * sizeof(uint64_t));
  free(w->words);
  w->words = NULL;
  w->count = 0;
}

void va_free_bn(BIGNUM *bn, va_secrecy secrecy) {
  if (secrecy == VA_SECRET) {
    BN_clear_free(bn);
  } else {
    BN_free(bn);
  }
}

/* Moves words already read into a new BIGNUM (freeing them); NULL after throwing. */
static BIGNUM *words_to_bn(napi_env env, va_words *w, const char *op, const char *name,
                           va_secrecy secrecy) {
  /* Serialise as little-endian bytes explicitly: correct whatever the host byte order. */
  size_t len = w->count * 8;
  unsigned char *bytes = malloc(len > 0 ? len : 1);
  if (bytes == NULL) {
    va_free_words(w, secrecy);
    va_throw(env, VA_E_INTERNAL, "%s: out of memory", op);
    return NULL;
  }
  for (size_t i = 0; i < w->count; i++) {
    for (size_t j = 0; j < 8; j++) bytes[8 * i + j] = (unsigned char)(w->words[i] >> (8 * j));
  }
  va_free_words(w, secrecy);
  BIGNUM *bn = BN_lebin2bn(bytes, (int)len, NULL);
  if (secrecy == VA_SECRET) OPENSSL_cleanse(bytes, len);
  free(bytes);
  if (bn == NULL) {
    ERR_clear_error();
    va_throw(env, VA_E_INTERNAL, "%s: cannot convert %s", op, name);
    return NULL;
  }
  return bn;
}

BIGNUM *va_get_bn(napi_env env, napi_value v, const char *op, const char *name,
                  va_secrecy secrecy) {
  va_words w;
  if (!va_get_words(env, v, op, name, &w)) return NULL;
  return words_to_bn(env, &w, op, name, secrecy);
}

BIGNUM *va_get_bn_signed(napi_env env, napi_value v, const char *op, const char *name,
                         va_secrecy secrecy, int *negative) {
  va_words w;
  if (!get_words_signed(env, v, op, name, &w, negative)) return NULL;
  return words_to_bn(env, &w, op, name, secrecy);
}

static BIGNUM *get_modulus(napi_env env, napi_value v, const char *op, int need_odd) {
  va_words w;
  int negative = 0;
  if (!get_words_signed(env, v, op, "modulus", &w, &negative)) return NULL;
  int too_small = negative || w.count == 0 || (w.count == 1 && w.words[0] == 1);
  va_free_words(&w, VA_PUBLIC);
  if (too_small) {
    va_throw(env, VA_E_DOMAIN, "%s: modulus must be greater than 1", op);
    return NULL;
  }
  BIGNUM *m = va_get_bn(env, v, op, "modulus", VA_PUBLIC);
  if (m == NULL) return NULL;
  if (BN_is_zero(m) || BN_is_one(m)) {
    BN_free(m);
    va_throw(env, VA_E_DOMAIN, "%s: modulus must be greater than 1", op);
    return NULL;
  }
  if (need_odd && !BN_is_odd(m)) {
    BN_free(m);
    va_throw(env, VA_E_DOMAIN, "%s: modulus must be odd", op);
    return NULL;
  }
  return m;
}

BIGNUM *va_get_odd_modulus(napi_env env, napi_value v, const char *op) {
  return get_modulus(env, v, op, 1);
}

napi_value va_make_bigint(napi_env env, const BIGNUM *bn, va_secrecy secrecy) {
  size_t count = ((size_t)BN_num_bits(bn) + 63) / 64;
  size_t len = count * 8;
  unsigned char *bytes = malloc(len > 0 ? len : 1);
  uint64_t *words = malloc((count > 0 ? count : 1) * sizeof(uint64_t));
  napi_value out = NULL;
  if (bytes == NULL || words == NULL) {
    va_throw(env, VA_E_INTERNAL, "result: out of memory");
    goto done;
  }
  if (BN_bn2lebinpad(bn, bytes, (int)len) != (int)len) {
    ERR_clear_error();
    va_throw(env, VA_E_INTERNAL, "result: cannot convert");
    goto done;
  }
  for (size_t i = 0; i < count; i++) {
    uint64_t word = 0;
    for (size_t j = 0; j < 8; j++) word |= (uint64_t)bytes[8 * i + j] << (8 * j);
    words[i] = word;
  }
  if (napi_create_bigint_words(env, 0, count, words, &out) != napi_ok) {
    out = NULL;
    va_throw(env, VA_E_INTERNAL, "result: cannot create bigint");
  }
done:
  if (bytes != NULL) {
    if (secrecy == VA_SECRET) OPENSSL_cleanse(bytes, len);
    free(bytes);
  }
  if (words != NULL) {
    if (secrecy == VA_SECRET) OPENSSL_cleanse(words, count * sizeof(uint64_t));
    free(words);
  }
  return out;
}

int va_get_int(napi_env env, napi_value v, const char *op, const char *name, int lo, int hi,
               int *out) {
  napi_valuetype type;
  double d = 0;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok) {
    va_throw(env, VA_E_TYPE, "%s: %s must be a number", op, name);
    return 0;
  }
  if (!(d >= lo && d <= hi) || d != (double)(int)d) {
    va_throw(env, VA_E_DOMAIN, "%s: %s must be an integer in [%d, %d]", op, name, lo, hi);
    return 0;
  }
  *out = (int)d;
  return 1;
}

/* base^exponent mod modulus; `secrecy` selects BN_mod_exp_mont_consttime. */
static napi_value mod_pow(napi_env env, napi_callback_info info, va_secrecy secrecy) {
  const char *op = secrecy == VA_SECRET ? "modPowSecret" : "modPow";
  napi_value argv[3];
  BIGNUM *m = NULL, *a = NULL, *p = NULL, *r = NULL;
  BN_CTX *ctx = NULL;
  napi_value out = NULL;
  if (!va_args(env, info, op, 3, argv)) return NULL;
  if ((m = va_get_odd_modulus(env, argv[2], op)) == NULL) goto done;
  if ((a = va_get_bn(env, argv[0], op, "base", secrecy)) == NULL) goto done;
  if ((p = va_get_bn(env, argv[1], op, "exponent", secrecy)) == NULL) goto done;
  ctx = BN_CTX_new();
  r = BN_new();
  if (ctx == NULL || r == NULL) {
    va_throw(env, VA_E_INTERNAL, "%s: out of memory", op);
    goto done;
  }
  ERR_set_mark();
  int ok;
  if (secrecy == VA_SECRET) {
    /*
     * Fixed window, cache-line-scattered table, no exponent-dependent branches. The exponent's
     * length in 64-bit words is still visible (BigInts carry no leading zeros); for exponents
     * sampled from a range this is a 2^-64 event.
     */
    BN_set_flags(p, BN_FLG_CONSTTIME);
    ok = BN_mod_exp_mont_consttime(r, a, p, m, ctx, NULL);
  } else {
    ok = BN_mod_exp_mont(r, a, p, m, ctx, NULL);
  }
  ERR_pop_to_mark();
  if (!ok) {
    va_throw(env, VA_E_INTERNAL, "%s: OpenSSL exponentiation failed", op);
    goto done;
  }
  out = va_make_bigint(env, r, secrecy);
done:
  BN_CTX_free(ctx);
  va_free_bn(r, secrecy);
  va_free_bn(p, secrecy);
  va_free_bn(a, secrecy);
  BN_free(m);
  return out;
}

static napi_value mod_pow_public(napi_env env, napi_callback_info info) {
  return mod_pow(env, info, VA_PUBLIC);
}

static napi_value mod_pow_secret(napi_env env, napi_callback_info info) {
  return mod_pow(env, info, VA_SECRET);
}

/* a^x * b^y mod modulus for public exponents (BN_mod_exp2_mont: one shared squaring chain). */
static napi_value mod_pow2(napi_env env, napi_callback_info info) {
  const char *op = "modPow2";
  napi_value argv[5];
  BIGNUM *m = NULL, *a = NULL, *x = NULL, *b = NULL, *y = NULL, *r = NULL;
  BN_CTX *ctx = NULL;
  napi_value out = NULL;
  if (!va_args(env, info, op, 5, argv)) return NULL;
  if ((m = va_get_odd_modulus(env, argv[4], op)) == NULL) goto done;
  if ((a = va_get_bn(env, argv[0], op, "base a", VA_PUBLIC)) == NULL) goto done;
  if ((x = va_get_bn(env, argv[1], op, "exponent x", VA_PUBLIC)) == NULL) goto done;
  if ((b = va_get_bn(env, argv[2], op, "base b", VA_PUBLIC)) == NULL) goto done;
  if ((y = va_get_bn(env, argv[3], op, "exponent y", VA_PUBLIC)) == NULL) goto done;
  ctx = BN_CTX_new();
  r = BN_new();
  if (ctx == NULL || r == NULL) {
    va_throw(env, VA_E_INTERNAL, "%s: out of memory", op);
    goto done;
  }
  ERR_set_mark();
  int ok;
  /*
   * BN_mod_exp2_mont returns 0 as soon as either base is 0 mod m, even when that base's exponent
   * is 0 (0^0 * b^y would come out 0, not b^y). With a zero exponent, exponentiate the other base.
   */
  if (BN_is_zero(x)) {
    ok = BN_mod_exp_mont(r, b, y, m, ctx, NULL);
  } else if (BN_is_zero(y)) {
    ok = BN_mod_exp_mont(r, a, x, m, ctx, NULL);
  } else {
    ok = BN_mod_exp2_mont(r, a, x, b, y, m, ctx, NULL);
  }
  ERR_pop_to_mark();
  if (!ok) {
    va_throw(env, VA_E_INTERNAL, "%s: OpenSSL exponentiation failed", op);
    goto done;
  }
  out = va_make_bigint(env, r, VA_PUBLIC);
done:
  BN_CTX_free(ctx);
  BN_free(r);
  BN_free(y);
  BN_free(b);
  BN_free(x);
  BN_free(a);
  BN_free(m);
  return out;
}

/*
 * a^-1 mod modulus. The modulus may be even (e.g. N^-1 mod phi(N) in the Pi^mod prover). Both
 * operands get BN_FLG_CONSTTIME, so OpenSSL takes its branch-free Euclid: inverses in the
 * protocol are mostly of secret values, and the cost is small next to one exponentiation.
 */
static napi_value mod_inverse(napi_env env, napi_callback_info info) {
  const char *op = "modInverse";
  napi_value argv[2];
  BIGNUM *m = NULL, *a = NULL, *r = NULL;
  BN_CTX *ctx = NULL;
  napi_value out = NULL;
  if (!va_args(env, info, op, 2, argv)) return NULL;
  if ((m = get_modulus(env, argv[1], op, 0)) == NULL) goto done;
  if ((a = va_get_bn(env, argv[0], op, "value", VA_SECRET)) == NULL) goto done;
  ctx = BN_CTX_new();
  r = BN_new();
  if (ctx == NULL || r == NULL) {
    va_throw(env, VA_E_INTERNAL, "%s: out of memory", op);
    goto done;
  }
  BN_set_flags(a, BN_FLG_CONSTTIME);
  BN_set_flags(m, BN_FLG_CONSTTIME);
  ERR_set_mark();
  BIGNUM *ok = BN_mod_inverse(r, a, m, ctx);
  int reason = ok == NULL ? ERR_GET_REASON(ERR_peek_last_error()) : 0;
  ERR_pop_to_mark();
  if (ok == NULL) {
    if (reason == BN_R_NO_INVERSE) {
      va_throw(env, VA_E_NOT_INVERTIBLE, "%s: value is not invertible (gcd with modulus is not 1)",
               op);
    } else {
      va_throw(env, VA_E_INTERNAL, "%s: OpenSSL inversion failed", op);
    }
    goto done;
  }
  out = va_make_bigint(env, r, VA_SECRET);
done:
  BN_CTX_free(ctx);
  BN_clear_free(r);
  BN_clear_free(a);
  BN_free(m);
  return out;
}

/*
 * gcd(a, m) == 1 for 0 <= a. OpenSSL's BN_gcd is constant-time (binary GCD with a fixed number
 * of steps for the operands' size): `a` is often secret (Paillier randomness sampled in Z*_N),
 * and the BigInt Euclid it replaces was both variable-time and ~10 % of a presign's CPU.
 */
static napi_value is_coprime(napi_env env, napi_callback_info info) {
  const char *op = "isCoprime";
  napi_value argv[2];
  BIGNUM *m = NULL, *a = NULL, *g = NULL;
  BN_CTX *ctx = NULL;
  napi_value out = NULL;
  if (!va_args(env, info, op, 2, argv)) return NULL;
  if ((m = get_modulus(env, argv[1], op, 0)) == NULL) goto done;
  if ((a = va_get_bn(env, argv[0], op, "value", VA_SECRET)) == NULL) goto done;
  ctx = BN_CTX_new();
  g = BN_new();
  if (ctx == NULL || g == NULL) {
    va_throw(env, VA_E_INTERNAL, "%s: out of memory", op);
    goto done;
  }
  if (!BN_gcd(g, a, m, ctx)) {
    ERR_clear_error();
    va_throw(env, VA_E_INTERNAL, "%s: OpenSSL gcd failed", op);
    goto done;
  }
  if (napi_get_boolean(env, BN_is_one(g), &out) != napi_ok) out = NULL;
done:
  BN_CTX_free(ctx);
  BN_clear_free(g);
  BN_clear_free(a);
  BN_free(m);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value abi;
  if (napi_create_uint32(env, VA_ABI_VERSION, &abi) != napi_ok) return NULL;
  napi_property_descriptor props[] = {
      {"abiVersion", NULL, NULL, NULL, NULL, abi, napi_enumerable, NULL},
      {"modPow", NULL, mod_pow_public, NULL, NULL, NULL, napi_enumerable, NULL},
      {"modPowSecret", NULL, mod_pow_secret, NULL, NULL, NULL, napi_enumerable, NULL},
      {"modPow2", NULL, mod_pow2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"modInverse", NULL, mod_inverse, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isCoprime", NULL, is_coprime, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tableNew", NULL, va_table_new, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tablePow2", NULL, va_table_pow2, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) {
    return NULL;
  }
  if (!va_register_secret_ops(env, exports)) return NULL;
  return exports;
}

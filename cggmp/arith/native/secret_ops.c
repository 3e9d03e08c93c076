/*
 * The addon's secret-key surface over ct_core.c: handles that hold a secret modulus, a CRT pair
 * or a Paillier key together with their Montgomery contexts (built once, flagged constant-time),
 * and the operations on them. A handle is a type-tagged Node-API external owned by the JS key
 * object; its finalizer wipes every BIGNUM it holds.
 *
 * Arguments are validated here before any arithmetic (types, signs, public ranges); ct_core then
 * runs without branches on secret values. Secret results are wiped from every buffer on the way
 * back to JS (va_make_bigint with VA_SECRET).
 */
#include "vilna_arith.h"

#include <stdlib.h>

#include <openssl/err.h>

#include "ct_core.h"

static const napi_type_tag MODULUS_TAG = {0x76696c6e616d6f64ULL, 0x3c1f5a9e7b2d4e61ULL};
static const napi_type_tag CRT_TAG = {0x76696c6e61637274ULL, 0x8a4d2c6b1e9f3a57ULL};
static const napi_type_tag PAILLIER_TAG = {0x76696c6e61706169ULL, 0x5e2b7d91c4a3f068ULL};

typedef struct {
  void *ptr;
  int64_t bytes;
  void (*release)(void *);
} handle_box;

static void release_modulus(void *p) { ct_modulus_free(p); }
static void release_crt(void *p) { ct_crt_free(p); }
static void release_paillier(void *p) { ct_paillier_free(p); }

/* Rough native bytes of a handle with `moduli` moduli of `bits` bits (GC accounting only). */
static int64_t approx_bytes(int moduli, int bits) { return (int64_t)moduli * 24 * (bits / 8 + 64); }

static void finalize_box(napi_env env, void *data, void *hint) {
  (void)hint;
  handle_box *box = data;
  int64_t ignored;
  napi_adjust_external_memory(env, -box->bytes, &ignored);
  box->release(box->ptr);
  free(box);
}

/* Wraps ptr (never NULL) in a tagged external; on failure frees it and throws. */
static napi_value wrap_handle(napi_env env, const char *op, void *ptr, const napi_type_tag *tag,
                              void (*release)(void *), int64_t bytes) {
  handle_box *box = malloc(sizeof *box);
  napi_value out = NULL;
  if (box == NULL) {
    release(ptr);
    return va_throw(env, VA_E_INTERNAL, "%s: out of memory", op);
  }
  *box = (handle_box){ptr, bytes, release};
  if (napi_create_external(env, box, finalize_box, NULL, &out) != napi_ok) {
    release(ptr);
    free(box);
    return va_throw(env, VA_E_INTERNAL, "%s: cannot create handle", op);
  }
  /* From here the finalizer owns box. */
  if (napi_type_tag_object(env, out, tag) != napi_ok) {
    return va_throw(env, VA_E_INTERNAL, "%s: cannot tag handle", op);
  }
  int64_t ignored;
  napi_adjust_external_memory(env, bytes, &ignored);
  return out;
}

/* The object behind a handle of the given tag; NULL after throwing a TypeError. */
static void *unwrap_handle(napi_env env, napi_value v, const napi_type_tag *tag, const char *op,
                           const char *what) {
  bool ok = false;
  napi_valuetype type;
  void *data = NULL;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, v, tag, &ok) != napi_ok || !ok ||
      napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    va_throw(env, VA_E_TYPE, "%s: expected a %s handle", op, what);
    return NULL;
  }
  return ((handle_box *)data)->ptr;
}

/* Arguments and temporaries of one call, freed (secrets wiped) by call_end. */
typedef struct {
  const char *op;
  napi_env env;
  BN_CTX *ctx;
  BIGNUM *bn[6];
  int nbn;
  BIGNUM *r;
} call_state;

static int call_begin(call_state *c, napi_env env, const char *op) {
  *c = (call_state){.op = op, .env = env};
  c->ctx = BN_CTX_new();
  c->r = BN_new();
  if (c->ctx == NULL || c->r == NULL) {
    va_throw(env, VA_E_INTERNAL, "%s: out of memory", op);
    return 0;
  }
  return 1;
}

/* Reads argument v as a non-negative secret BigInt into the call's argument list. */
static BIGNUM *call_arg(call_state *c, napi_value v, const char *name) {
  BIGNUM *b = va_get_bn(c->env, v, c->op, name, VA_SECRET);
  if (b != NULL) c->bn[c->nbn++] = b;
  return b;
}

/* Like call_arg for a BigInt of either sign (its sign is public). */
static BIGNUM *call_signed_arg(call_state *c, napi_value v, const char *name, int *negative) {
  BIGNUM *b = va_get_bn_signed(c->env, v, c->op, name, VA_SECRET, negative);
  if (b != NULL) c->bn[c->nbn++] = b;
  return b;
}

/* Frees the call's arguments and temporaries, wiping them. */
static void call_free(call_state *c) {
  for (int i = 0; i < c->nbn; i++) BN_clear_free(c->bn[i]);
  BN_clear_free(c->r);
  BN_CTX_free(c->ctx);
}

/* Turns a ct_core result into the call's answer: the result as a BigInt, or a thrown error. */
static napi_value call_end(call_state *c, int ok, va_secrecy secrecy) {
  napi_value out = NULL;
  bool pending = false;
  napi_is_exception_pending(c->env, &pending);
  if (!pending) {
    if (ok) {
      out = va_make_bigint(c->env, c->r, secrecy);
    } else {
      va_throw(c->env, VA_E_INTERNAL, "%s: the operation failed", c->op);
    }
  }
  call_free(c);
  return out;
}

/* Runs one ct_core call between an OpenSSL error mark and its restoration. */
static int marked(int ok) {
  ERR_pop_to_mark();
  return ok;
}
#define CT(expr) (ERR_set_mark(), marked(expr))

/* secretModulus(n) -> handle: odd n > 1, flagged constant-time, Montgomery context built once. */
static napi_value secret_modulus(napi_env env, napi_callback_info info) {
  const char *op = "secretModulus";
  napi_value argv[1];
  if (!va_args(env, info, op, 1, argv)) return NULL;
  BIGNUM *n = va_get_odd_modulus(env, argv[0], op);
  if (n == NULL) return NULL;
  BN_CTX *ctx = BN_CTX_new();
  ct_modulus *m = NULL;
  if (ctx != NULL) {
    ERR_set_mark();
    m = ct_modulus_new(n, ctx);
    ERR_pop_to_mark();
  }
  int bits = BN_num_bits(n);
  BN_CTX_free(ctx);
  BN_clear_free(n);
  if (m == NULL) return va_throw(env, VA_E_INTERNAL, "%s: cannot build the modulus", op);
  return wrap_handle(env, op, m, &MODULUS_TAG, release_modulus, approx_bytes(1, bits));
}

/* modReduce(h, x) -> x mod n. */
static napi_value mod_reduce(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[2];
  if (!call_begin(&c, env, "modReduce") || !va_args(env, info, "modReduce", 2, argv)) {
    return call_end(&c, 0, VA_SECRET);
  }
  ct_modulus *m = unwrap_handle(env, argv[0], &MODULUS_TAG, c.op, "modulus");
  BIGNUM *x = m == NULL ? NULL : call_arg(&c, argv[1], "x");
  return call_end(&c, x != NULL && CT(ct_reduce(c.r, x, m, c.ctx)), VA_SECRET);
}

/* modPowSecretModulus(h, base, exp) -> base^exp mod n, constant time in base, exp and n. */
static napi_value mod_pow_ct(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[3];
  const char *op = "modPowSecretModulus";
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 3, argv)) return call_end(&c, 0, VA_SECRET);
  ct_modulus *m = unwrap_handle(env, argv[0], &MODULUS_TAG, op, "modulus");
  BIGNUM *b = m == NULL ? NULL : call_arg(&c, argv[1], "base");
  BIGNUM *e = b == NULL ? NULL : call_arg(&c, argv[2], "exponent");
  return call_end(&c, e != NULL && CT(ct_pow(c.r, b, e, m, c.ctx)), VA_SECRET);
}

/* modMulAdd(h, a, x, y) -> (a + x*y) mod n. */
static napi_value mod_mul_add(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[4];
  const char *op = "modMulAdd";
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 4, argv)) return call_end(&c, 0, VA_SECRET);
  ct_modulus *m = unwrap_handle(env, argv[0], &MODULUS_TAG, op, "modulus");
  BIGNUM *a = m == NULL ? NULL : call_arg(&c, argv[1], "a");
  BIGNUM *x = a == NULL ? NULL : call_arg(&c, argv[2], "x");
  BIGNUM *y = x == NULL ? NULL : call_arg(&c, argv[3], "y");
  return call_end(&c, y != NULL && CT(ct_mul_add_mod(c.r, a, x, y, m, c.ctx)), VA_SECRET);
}

/* addModSecret(a, b, m) -> (a + b) mod m for 0 <= a, b < m; m > 0 of any parity (e.g. phi). */
static napi_value add_mod(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[3];
  const char *op = "addModSecret";
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 3, argv)) return call_end(&c, 0, VA_SECRET);
  BIGNUM *a = call_arg(&c, argv[0], "a");
  BIGNUM *b = a == NULL ? NULL : call_arg(&c, argv[1], "b");
  BIGNUM *m = b == NULL ? NULL : call_arg(&c, argv[2], "modulus");
  if (m != NULL && (BN_is_zero(m) || BN_ucmp(a, m) >= 0 || BN_ucmp(b, m) >= 0)) {
    va_throw(env, VA_E_DOMAIN, "%s: operands must be below the modulus", op);
    return call_end(&c, 0, VA_SECRET);
  }
  return call_end(&c, m != NULL && CT(ct_add_mod(c.r, a, b, m)), VA_SECRET);
}

/* secretCrt(n1, phi1, n2, phi2) -> handle. */
static napi_value secret_crt(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[4];
  const char *op = "secretCrt";
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 4, argv)) return call_end(&c, 0, VA_SECRET);
  BIGNUM *n1 = va_get_odd_modulus(env, argv[0], op);
  if (n1 != NULL) c.bn[c.nbn++] = n1;
  BIGNUM *phi1 = n1 == NULL ? NULL : call_arg(&c, argv[1], "phi1");
  BIGNUM *n2 = phi1 == NULL ? NULL : va_get_odd_modulus(env, argv[2], op);
  if (n2 != NULL) c.bn[c.nbn++] = n2;
  BIGNUM *phi2 = n2 == NULL ? NULL : call_arg(&c, argv[3], "phi2");
  if (phi2 == NULL) return call_end(&c, 0, VA_SECRET);
  ERR_set_mark();
  ct_crt *crt = ct_crt_new(n1, phi1, n2, phi2, c.ctx);
  ERR_pop_to_mark();
  int bits = BN_num_bits(n1) + BN_num_bits(n2);
  call_free(&c);
  if (crt == NULL) return va_throw(env, VA_E_DOMAIN, "%s: the factors must be coprime", op);
  return wrap_handle(env, op, crt, &CRT_TAG, release_crt, approx_bytes(4, bits));
}

/* crtPow(h, base, exp) -> base^exp mod n1*n2; exp of either sign (its sign is public). */
static napi_value crt_pow(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[3];
  const char *op = "crtPow";
  int negative = 0;
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 3, argv)) return call_end(&c, 0, VA_SECRET);
  ct_crt *crt = unwrap_handle(env, argv[0], &CRT_TAG, op, "CRT");
  BIGNUM *b = crt == NULL ? NULL : call_arg(&c, argv[1], "base");
  BIGNUM *e = b == NULL ? NULL : call_signed_arg(&c, argv[2], "exponent", &negative);
  return call_end(&c, e != NULL && CT(ct_crt_pow(c.r, b, e, negative, crt, c.ctx)), VA_SECRET);
}

/* crtLegendre(h, v) -> [(v/n1), (v/n2)] for prime n1, n2. */
static napi_value crt_legendre(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[2];
  const char *op = "crtLegendre";
  int j1 = 0, j2 = 0;
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 2, argv)) return call_end(&c, 0, VA_SECRET);
  ct_crt *crt = unwrap_handle(env, argv[0], &CRT_TAG, op, "CRT");
  BIGNUM *v = crt == NULL ? NULL : call_arg(&c, argv[1], "v");
  int ok = v != NULL && CT(ct_crt_legendre(&j1, &j2, v, crt, c.ctx));
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  call_free(&c);
  if (pending) return NULL;
  if (!ok) return va_throw(env, VA_E_INTERNAL, "%s: the operation failed", op);
  napi_value out, a, b;
  if (napi_create_array_with_length(env, 2, &out) != napi_ok || napi_create_int32(env, j1, &a) != napi_ok ||
      napi_create_int32(env, j2, &b) != napi_ok || napi_set_element(env, out, 0, a) != napi_ok ||
      napi_set_element(env, out, 1, b) != napi_ok) {
    return va_throw(env, VA_E_INTERNAL, "%s: cannot create result", op);
  }
  return out;
}

/* secretPaillier(p, q) -> handle. */
static napi_value secret_paillier(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[2];
  const char *op = "secretPaillier";
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 2, argv)) return call_end(&c, 0, VA_SECRET);
  BIGNUM *p = va_get_odd_modulus(env, argv[0], op);
  if (p != NULL) c.bn[c.nbn++] = p;
  BIGNUM *q = p == NULL ? NULL : va_get_odd_modulus(env, argv[1], op);
  if (q != NULL) c.bn[c.nbn++] = q;
  if (q == NULL) return call_end(&c, 0, VA_SECRET);
  ERR_set_mark();
  ct_paillier *k = BN_cmp(p, q) == 0 ? NULL : ct_paillier_new(p, q, c.ctx);
  ERR_pop_to_mark();
  int bits = BN_num_bits(p) + BN_num_bits(q);
  call_free(&c);
  if (k == NULL) return va_throw(env, VA_E_DOMAIN, "%s: p and q must be distinct odd primes", op);
  return wrap_handle(env, op, k, &PAILLIER_TAG, release_paillier, approx_bytes(12, 2 * bits));
}

/* paillierDecrypt(h, C) -> dec(C) in [0, N). C must be a unit mod N^2 (checked by the caller). */
static napi_value paillier_decrypt(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[2];
  const char *op = "paillierDecrypt";
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 2, argv)) return call_end(&c, 0, VA_SECRET);
  ct_paillier *k = unwrap_handle(env, argv[0], &PAILLIER_TAG, op, "Paillier");
  BIGNUM *C = k == NULL ? NULL : call_arg(&c, argv[1], "C");
  return call_end(&c, C != NULL && CT(ct_paillier_decrypt(c.r, C, k, c.ctx)), VA_SECRET);
}

/* paillierDecryptCentredMod(h, C, qh) -> (dec(C) in (-N/2, N/2]) mod q. */
static napi_value paillier_decrypt_centred_mod(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[3];
  const char *op = "paillierDecryptCentredMod";
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 3, argv)) return call_end(&c, 0, VA_SECRET);
  ct_paillier *k = unwrap_handle(env, argv[0], &PAILLIER_TAG, op, "Paillier");
  BIGNUM *C = k == NULL ? NULL : call_arg(&c, argv[1], "C");
  ct_modulus *qm = C == NULL ? NULL : unwrap_handle(env, argv[2], &MODULUS_TAG, op, "modulus");
  return call_end(&c, qm != NULL && CT(ct_paillier_decrypt_centred_mod(c.r, C, k, qm, c.ctx)), VA_SECRET);
}

/* paillierPow(h, base, exp) -> base^exp mod N^2 through p^2, q^2; exp of either (public) sign. */
static napi_value paillier_pow(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[3];
  const char *op = "paillierPow";
  int negative = 0;
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 3, argv)) return call_end(&c, 0, VA_SECRET);
  ct_paillier *k = unwrap_handle(env, argv[0], &PAILLIER_TAG, op, "Paillier");
  BIGNUM *b = k == NULL ? NULL : call_arg(&c, argv[1], "base");
  BIGNUM *e = b == NULL ? NULL : call_signed_arg(&c, argv[2], "exponent", &negative);
  return call_end(&c, e != NULL && CT(ct_crt_pow(c.r, b, e, negative, k->crt_n2, c.ctx)), VA_SECRET);
}

/* paillierNthPower(h, x) -> x^N mod N^2 through p, q: the r^N of an encryption. */
static napi_value paillier_nth_power(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[2];
  const char *op = "paillierNthPower";
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 2, argv)) return call_end(&c, 0, VA_SECRET);
  ct_paillier *k = unwrap_handle(env, argv[0], &PAILLIER_TAG, op, "Paillier");
  BIGNUM *x = k == NULL ? NULL : call_arg(&c, argv[1], "base");
  return call_end(&c, x != NULL && CT(ct_paillier_nth_power(c.r, x, k, c.ctx)), VA_SECRET);
}

/* affine(av, e, xv, xo) -> av + |e| (e < 0 ? 2 xo - xv : xv): a proof response before its public shift. */
static napi_value affine(napi_env env, napi_callback_info info) {
  call_state c;
  napi_value argv[4];
  const char *op = "affine";
  int negative = 0;
  if (!call_begin(&c, env, op) || !va_args(env, info, op, 4, argv)) return call_end(&c, 0, VA_PUBLIC);
  BIGNUM *av = call_arg(&c, argv[0], "av");
  BIGNUM *e = av == NULL ? NULL : call_signed_arg(&c, argv[1], "e", &negative);
  BIGNUM *xv = e == NULL ? NULL : call_arg(&c, argv[2], "xv");
  BIGNUM *xo = xv == NULL ? NULL : call_arg(&c, argv[3], "xo");
  if (xo != NULL) {
    BIGNUM *two = BN_new();
    int in_range = two != NULL && BN_lshift1(two, xo) && BN_ucmp(xv, two) <= 0;
    BN_free(two);
    if (!in_range) {
      va_throw(env, VA_E_DOMAIN, "%s: xv must lie in [0, 2 xo]", op);
      return call_end(&c, 0, VA_PUBLIC);
    }
  }
  /* The response is published: it leaves as a public value. */
  return call_end(&c, xo != NULL && CT(ct_affine(c.r, av, e, negative, xv, xo, c.ctx)), VA_PUBLIC);
}

/* montContextsBuilt() -> Montgomery contexts built for handles since the addon was loaded. */
static napi_value mont_contexts_built(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  if (napi_create_double(env, (double)ct_mont_contexts_built(), &out) != napi_ok) return NULL;
  return out;
}

/* Whether a modulus is flagged constant-time with its context in place (tests of the handles). */
static int modulus_sound(const ct_modulus *m) {
  return m != NULL && m->mont != NULL && BN_get_flags(m->n, BN_FLG_CONSTTIME) != 0;
}

/* secretHandleInfo(h) -> { kind, moduli, constantTime }: introspection for tests, no values. */
static napi_value secret_handle_info(napi_env env, napi_callback_info info) {
  const char *op = "secretHandleInfo";
  napi_value argv[1];
  if (!va_args(env, info, op, 1, argv)) return NULL;
  bool is_mod = false, is_crt = false, is_pai = false;
  napi_check_object_type_tag(env, argv[0], &MODULUS_TAG, &is_mod);
  napi_check_object_type_tag(env, argv[0], &CRT_TAG, &is_crt);
  napi_check_object_type_tag(env, argv[0], &PAILLIER_TAG, &is_pai);
  const char *kind = NULL;
  int moduli = 0, sound = 0;
  if (is_mod) {
    ct_modulus *m = unwrap_handle(env, argv[0], &MODULUS_TAG, op, "modulus");
    if (m == NULL) return NULL;
    kind = "modulus";
    moduli = 1;
    sound = modulus_sound(m);
  } else if (is_crt) {
    ct_crt *crt = unwrap_handle(env, argv[0], &CRT_TAG, op, "CRT");
    if (crt == NULL) return NULL;
    kind = "crt";
    moduli = 2;
    sound = modulus_sound(crt->m1) && modulus_sound(crt->m2) &&
            BN_get_flags(crt->phi1, BN_FLG_CONSTTIME) && BN_get_flags(crt->phi2, BN_FLG_CONSTTIME);
  } else if (is_pai) {
    ct_paillier *k = unwrap_handle(env, argv[0], &PAILLIER_TAG, op, "Paillier");
    if (k == NULL) return NULL;
    kind = "paillier";
    moduli = 4;
    sound = modulus_sound(k->crt_n->m1) && modulus_sound(k->crt_n->m2) &&
            modulus_sound(k->crt_n2->m1) && modulus_sound(k->crt_n2->m2) &&
            BN_get_flags(k->pm1, BN_FLG_CONSTTIME) && BN_get_flags(k->qm1, BN_FLG_CONSTTIME);
  } else {
    return va_throw(env, VA_E_TYPE, "%s: not a secret handle", op);
  }
  napi_value out, vkind, vmod, vct;
  if (napi_create_object(env, &out) != napi_ok ||
      napi_create_string_utf8(env, kind, NAPI_AUTO_LENGTH, &vkind) != napi_ok ||
      napi_create_int32(env, moduli, &vmod) != napi_ok || napi_get_boolean(env, sound != 0, &vct) != napi_ok ||
      napi_set_named_property(env, out, "kind", vkind) != napi_ok ||
      napi_set_named_property(env, out, "moduli", vmod) != napi_ok ||
      napi_set_named_property(env, out, "constantTime", vct) != napi_ok) {
    return va_throw(env, VA_E_INTERNAL, "%s: cannot create result", op);
  }
  return out;
}

int va_register_secret_ops(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"secretModulus", NULL, secret_modulus, NULL, NULL, NULL, napi_enumerable, NULL},
      {"modReduce", NULL, mod_reduce, NULL, NULL, NULL, napi_enumerable, NULL},
      {"modPowSecretModulus", NULL, mod_pow_ct, NULL, NULL, NULL, napi_enumerable, NULL},
      {"modMulAdd", NULL, mod_mul_add, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addModSecret", NULL, add_mod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"secretCrt", NULL, secret_crt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"crtPow", NULL, crt_pow, NULL, NULL, NULL, napi_enumerable, NULL},
      {"crtLegendre", NULL, crt_legendre, NULL, NULL, NULL, napi_enumerable, NULL},
      {"secretPaillier", NULL, secret_paillier, NULL, NULL, NULL, napi_enumerable, NULL},
      {"paillierDecrypt", NULL, paillier_decrypt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"paillierDecryptCentredMod", NULL, paillier_decrypt_centred_mod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"paillierPow", NULL, paillier_pow, NULL, NULL, NULL, napi_enumerable, NULL},
      {"paillierNthPower", NULL, paillier_nth_power, NULL, NULL, NULL, napi_enumerable, NULL},
      {"affine", NULL, affine, NULL, NULL, NULL, napi_enumerable, NULL},
      {"montContextsBuilt", NULL, mont_contexts_built, NULL, NULL, NULL, napi_enumerable, NULL},
      {"secretHandleInfo", NULL, secret_handle_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}

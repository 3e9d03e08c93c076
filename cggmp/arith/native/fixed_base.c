/*
 * Fixed-base double exponentiation s^x * t^y mod m with a precomputed table: the algorithm
 * "Computing s^x t^y; parameterized by B" of the CGGMP spec, section "Speeding up Fixed-Based
 * Multiexponentiation Using Preprocessing".
 *
 * Preprocessing stores s_i = s^(B^i) and t_i = t^(B^i) for i < k' = ceil(maxExpBits / lg B), in
 * Montgomery form. An evaluation then costs about (B - 1) + (number of non-zero base-B digits of x
 * and y) Montgomery multiplications and no squaring. Exponents are public: the order and number
 * of multiplications depend on their digits.
 *
 * A table is a Node-API external, type-tagged so that tablePow2 rejects any other value; the
 * finalizer frees it when the JS object holding it is collected.
 */
#include "vilna_arith.h"

#include <stdlib.h>

#include <openssl/err.h>

/* Limits checked here and, with the same values, in fixed-base-window.ts. */
#define VA_TABLE_MAX_EXP_BITS 65536
#define VA_TABLE_MAX_WINDOW_BITS 16

/* Approximate bytes of a BIGNUM header plus allocator slack (the struct is opaque here), for
 * napi_adjust_external_memory only. */
#define VA_BIGNUM_OVERHEAD 48

typedef struct {
  BN_MONT_CTX *mont;
  int max_exp_bits;
  int window_bits; /* lg B */
  int digits;      /* k' */
  BIGNUM **s;      /* s_i * R mod m, i < digits */
  BIGNUM **t;      /* t_i * R mod m, i < digits */
  int64_t external_bytes;
} va_table;

static const napi_type_tag VA_TABLE_TAG = {0x76696c6e61746162ULL, 0x9e6b2d4f1c0a7e53ULL};

static void table_free(va_table *tb) {
  if (tb == NULL) return;
  for (int i = 0; i < tb->digits; i++) {
    if (tb->s != NULL) BN_free(tb->s[i]);
    if (tb->t != NULL) BN_free(tb->t[i]);
  }
  free(tb->s);
  free(tb->t);
  BN_MONT_CTX_free(tb->mont);
  free(tb);
}

static void table_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  va_table *tb = data;
  int64_t ignored;
  napi_adjust_external_memory(env, -tb->external_bytes, &ignored);
  table_free(tb);
}

/* Fills powers[i] = base^(B^i) * R mod m for i < tb->digits: repeated lg B squarings. */
static int fill_powers(va_table *tb, BIGNUM **powers, const BIGNUM *base, const BIGNUM *m,
                       BN_CTX *ctx) {
  BIGNUM *reduced = BN_new();
  int ok = reduced != NULL && BN_nnmod(reduced, base, m, ctx);
  for (int i = 0; ok && i < tb->digits; i++) {
    powers[i] = BN_new();
    if (powers[i] == NULL) {
      ok = 0;
      break;
    }
    if (i == 0) {
      ok = BN_to_montgomery(powers[0], reduced, tb->mont, ctx);
      continue;
    }
    ok = BN_copy(powers[i], powers[i - 1]) != NULL;
    for (int j = 0; ok && j < tb->window_bits; j++) {
      ok = BN_mod_mul_montgomery(powers[i], powers[i], powers[i], tb->mont, ctx);
    }
  }
  BN_free(reduced);
  return ok;
}

/* tableNew(s, t, modulus, maxExpBits, windowBits) -> external */
napi_value va_table_new(napi_env env, napi_callback_info info) {
  const char *op = "fixedBaseTable";
  napi_value argv[5];
  BIGNUM *m = NULL, *s = NULL, *t = NULL;
  BN_CTX *ctx = NULL;
  va_table *tb = NULL;
  napi_value out = NULL;
  int max_exp_bits = 0, window_bits = 0;
  if (!va_args(env, info, op, 5, argv)) return NULL;
  if ((m = va_get_odd_modulus(env, argv[2], op)) == NULL) goto done;
  if ((s = va_get_bn(env, argv[0], op, "base s", VA_PUBLIC)) == NULL) goto done;
  if ((t = va_get_bn(env, argv[1], op, "base t", VA_PUBLIC)) == NULL) goto done;
  if (!va_get_int(env, argv[3], op, "maxExpBits", 1, VA_TABLE_MAX_EXP_BITS, &max_exp_bits)) {
    goto done;
  }
  if (!va_get_int(env, argv[4], op, "windowBits", 1, VA_TABLE_MAX_WINDOW_BITS, &window_bits)) {
    goto done;
  }
  ctx = BN_CTX_new();
  tb = calloc(1, sizeof *tb);
  if (ctx == NULL || tb == NULL) {
    va_throw(env, VA_E_INTERNAL, "%s: out of memory", op);
    goto done;
  }
  tb->max_exp_bits = max_exp_bits;
  tb->window_bits = window_bits;
  tb->digits = (max_exp_bits + window_bits - 1) / window_bits;
  tb->s = calloc((size_t)tb->digits, sizeof(BIGNUM *));
  tb->t = calloc((size_t)tb->digits, sizeof(BIGNUM *));
  tb->mont = BN_MONT_CTX_new();
  if (tb->s == NULL || tb->t == NULL || tb->mont == NULL) {
    va_throw(env, VA_E_INTERNAL, "%s: out of memory", op);
    goto done;
  }
  ERR_set_mark();
  int ok = BN_MONT_CTX_set(tb->mont, m, ctx) && fill_powers(tb, tb->s, s, m, ctx) &&
           fill_powers(tb, tb->t, t, m, ctx);
  ERR_pop_to_mark();
  if (!ok) {
    va_throw(env, VA_E_INTERNAL, "%s: OpenSSL precomputation failed", op);
    goto done;
  }
  tb->external_bytes =
      (int64_t)tb->digits * 2 * ((BN_num_bits(m) + 7) / 8 + VA_BIGNUM_OVERHEAD);
  if (napi_create_external(env, tb, table_finalize, NULL, &out) != napi_ok) {
    out = NULL;
    va_throw(env, VA_E_INTERNAL, "%s: cannot create table object", op);
    goto done;
  }
  /* Owned by the external from here on; tell the GC how much memory it holds. */
  int64_t ignored;
  napi_adjust_external_memory(env, tb->external_bytes, &ignored);
  tb = NULL;
  if (napi_type_tag_object(env, out, &VA_TABLE_TAG) != napi_ok) {
    out = NULL;
    va_throw(env, VA_E_INTERNAL, "%s: cannot tag table object", op);
    goto done;
  }
done:
  table_free(tb);
  BN_CTX_free(ctx);
  BN_free(t);
  BN_free(s);
  BN_free(m);
  return out;
}

static int bit_length(const va_words *w) {
  if (w->count == 0) return 0;
  return (int)(64 * (w->count - 1)) + 64 - __builtin_clzll(w->words[w->count - 1]);
}

/* The base-2^w digit of `w` starting at bit `pos` (w <= 16, so it spans at most two words). */
static unsigned digit_at(const va_words *v, size_t pos, int w) {
  size_t q = pos / 64;
  unsigned r = (unsigned)(pos % 64);
  if (q >= v->count) return 0;
  uint64_t bits = v->words[q] >> r;
  if (r + (unsigned)w > 64 && q + 1 < v->count) bits |= v->words[q + 1] << (64 - r);
  return (unsigned)(bits & ((1u << w) - 1));
}

/* tablePow2(table, x, y) -> s^x * t^y mod m */
napi_value va_table_pow2(napi_env env, napi_callback_info info) {
  const char *op = "pow2";
  napi_value argv[3];
  va_table *tb = NULL;
  va_words x = {NULL, 0}, y = {NULL, 0};
  uint32_t *start = NULL;
  const BIGNUM **order = NULL;
  BIGNUM *tmp = NULL, *res = NULL;
  BN_CTX *ctx = NULL;
  napi_value out = NULL;
  if (!va_args(env, info, op, 3, argv)) return NULL;
  napi_valuetype type;
  bool tagged = false;
  if (napi_typeof(env, argv[0], &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, argv[0], &VA_TABLE_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, argv[0], (void **)&tb) != napi_ok || tb == NULL) {
    return va_throw(env, VA_E_TYPE, "%s: first argument must be a fixed-base table", op);
  }
  if (!va_get_words(env, argv[1], op, "exponent x", &x)) goto done;
  if (!va_get_words(env, argv[2], op, "exponent y", &y)) goto done;
  if (bit_length(&x) > tb->max_exp_bits) {
    va_throw(env, VA_E_DOMAIN, "%s: exponent x has %d bits, the table covers %d", op,
             bit_length(&x), tb->max_exp_bits);
    goto done;
  }
  if (bit_length(&y) > tb->max_exp_bits) {
    va_throw(env, VA_E_DOMAIN, "%s: exponent y has %d bits, the table covers %d", op,
             bit_length(&y), tb->max_exp_bits);
    goto done;
  }

  /* Bucket the table entries by digit value (counting sort): order[start[b] .. start[b+1]) are
   * the t_i with y_i = b followed by the s_i with x_i = b. */
  const int w = tb->window_bits;
  const size_t radix = (size_t)1 << w; /* B */
  start = calloc(radix + 1, sizeof *start);
  order = malloc(2 * (size_t)tb->digits * sizeof *order);
  ctx = BN_CTX_new();
  tmp = BN_new();
  res = BN_new();
  if (start == NULL || order == NULL || ctx == NULL || tmp == NULL || res == NULL) {
    va_throw(env, VA_E_INTERNAL, "%s: out of memory", op);
    goto done;
  }
  for (int i = 0; i < tb->digits; i++) {
    start[digit_at(&y, (size_t)i * w, w)]++;
    start[digit_at(&x, (size_t)i * w, w)]++;
  }
  /* start[b] := number of entries with digit < b (exclusive prefix sum), then fill. */
  uint32_t sum = 0;
  for (size_t b = 0; b <= radix; b++) {
    uint32_t c = start[b];
    start[b] = sum;
    sum += c;
  }
  for (int i = 0; i < tb->digits; i++) {
    order[start[digit_at(&y, (size_t)i * w, w)]++] = tb->t[i];
  }
  for (int i = 0; i < tb->digits; i++) {
    order[start[digit_at(&x, (size_t)i * w, w)]++] = tb->s[i];
  }
  /* After filling, start[b] is the end of bucket b, i.e. the beginning of bucket b + 1. */

  ERR_set_mark();
  int ok = 1, tmp_is_one = 1, res_is_one = 1;
  /* for b = B-1, ..., 1: tmp *= every t_i with y_i = b and s_i with x_i = b; res *= tmp */
  for (size_t b = radix - 1; ok && b >= 1; b--) {
    for (uint32_t j = start[b - 1]; ok && j < start[b]; j++) {
      if (tmp_is_one) {
        ok = BN_copy(tmp, order[j]) != NULL;
        tmp_is_one = 0;
      } else {
        ok = BN_mod_mul_montgomery(tmp, tmp, order[j], tb->mont, ctx);
      }
    }
    if (!ok || tmp_is_one) continue;
    if (res_is_one) {
      ok = BN_copy(res, tmp) != NULL;
      res_is_one = 0;
    } else {
      ok = BN_mod_mul_montgomery(res, res, tmp, tb->mont, ctx);
    }
  }
  if (ok) ok = res_is_one ? BN_set_word(res, 1) : BN_from_montgomery(res, res, tb->mont, ctx);
  ERR_pop_to_mark();
  if (!ok) {
    va_throw(env, VA_E_INTERNAL, "%s: OpenSSL multiplication failed", op);
    goto done;
  }
  out = va_make_bigint(env, res, VA_PUBLIC);
done:
  BN_free(res);
  BN_free(tmp);
  BN_CTX_free(ctx);
  free(order);
  free(start);
  va_free_words(&y, VA_PUBLIC);
  va_free_words(&x, VA_PUBLIC);
  return out;
}

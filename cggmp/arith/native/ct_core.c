/*
 * ct_core: constant-time operations on secret values and secret moduli (see ct_core.h for what
 * constant-time means here and which OpenSSL functions it relies on). Plain C over the public
 * BN API: the addon and the ctgrind harness (test/ct) compile this same file.
 *
 * Every function returns 1 on success and 0 on failure; BIGNUM temporaries come from the caller's
 * BN_CTX, which wipes them when it is freed. Secret copies owned by a struct are freed with
 * BN_clear_free.
 */
#include "ct_core.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

typedef unsigned __int128 u128;

/* ---- Masked limb helpers ---- */

uint64_t ct_limbs_add(uint64_t *r, const uint64_t *a, const uint64_t *b, size_t n) {
  uint64_t carry = 0;
  for (size_t i = 0; i < n; i++) {
    u128 t = (u128)a[i] + b[i] + carry;
    r[i] = (uint64_t)t;
    carry = (uint64_t)(t >> 64);
  }
  return carry;
}

uint64_t ct_limbs_sub(uint64_t *r, const uint64_t *a, const uint64_t *b, size_t n) {
  uint64_t borrow = 0;
  for (size_t i = 0; i < n; i++) {
    u128 t = (u128)a[i] - b[i] - borrow;
    r[i] = (uint64_t)t;
    borrow = (uint64_t)(t >> 64) & 1;
  }
  return borrow;
}

void ct_limbs_select(uint64_t *r, uint64_t mask, const uint64_t *a, const uint64_t *b, size_t n) {
  for (size_t i = 0; i < n; i++) r[i] = (a[i] & mask) | (b[i] & ~mask);
}

uint64_t ct_limbs_lt_mask(const uint64_t *a, const uint64_t *b, size_t n) {
  /* a < b exactly when a - b borrows; the difference itself is discarded. */
  uint64_t borrow = 0;
  for (size_t i = 0; i < n; i++) {
    u128 t = (u128)a[i] - b[i] - borrow;
    borrow = (uint64_t)(t >> 64) & 1;
  }
  return (uint64_t)0 - borrow;
}

int ct_bn_to_limbs(uint64_t *out, size_t n, const BIGNUM *a) {
  size_t len = n * 8;
  unsigned char *bytes = malloc(len > 0 ? len : 1);
  if (bytes == NULL) return 0;
  /* BN_bn2lebinpad walks all `len` bytes with masks: no dependence on the value. */
  int ok = BN_bn2lebinpad(a, bytes, (int)len) == (int)len;
  for (size_t i = 0; ok && i < n; i++) {
    uint64_t w = 0;
    for (size_t j = 0; j < 8; j++) w |= (uint64_t)bytes[8 * i + j] << (8 * j);
    out[i] = w;
  }
  OPENSSL_cleanse(bytes, len);
  free(bytes);
  return ok;
}

BIGNUM *ct_limbs_to_bn(BIGNUM *r, const uint64_t *in, size_t n) {
  size_t len = n * 8;
  unsigned char *bytes = malloc(len > 0 ? len : 1);
  if (bytes == NULL) return NULL;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < 8; j++) bytes[8 * i + j] = (unsigned char)(in[i] >> (8 * j));
  }
  BIGNUM *out = BN_lebin2bn(bytes, (int)len, r);
  OPENSSL_cleanse(bytes, len);
  free(bytes);
  return out;
}

/* ---- Odd moduli ---- */

static uint64_t mont_contexts_built = 0;

uint64_t ct_mont_contexts_built(void) { return mont_contexts_built; }

ct_modulus *ct_modulus_new(const BIGNUM *n, BN_CTX *ctx) {
  if (BN_is_negative(n) || !BN_is_odd(n) || BN_is_one(n)) return NULL;
  ct_modulus *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  m->n = BN_dup(n);
  m->mont = BN_MONT_CTX_new();
  if (m->n == NULL || m->mont == NULL) goto fail;
  /* Set before the context is built: BN_MONT_CTX_set then inverts the low word in constant time. */
  BN_set_flags(m->n, BN_FLG_CONSTTIME);
  if (!BN_MONT_CTX_set(m->mont, m->n, ctx)) goto fail;
  m->words = (BN_num_bits(m->n) + 63) / 64;
  mont_contexts_built++;
  return m;
fail:
  ct_modulus_free(m);
  return NULL;
}

void ct_modulus_free(ct_modulus *m) {
  if (m == NULL) return;
  for (int i = 0; i < m->npow; i++) BN_clear_free(m->rpow[i]);
  free(m->rpow);
  BN_MONT_CTX_free(m->mont);
  BN_clear_free(m->n);
  free(m);
}

/* Makes rpow hold at least k powers: rpow[0] = R mod n, rpow[i] = rpow[i-1] * R mod n. */
static int ensure_rpow(ct_modulus *m, int k, BN_CTX *ctx) {
  if (k <= m->npow) return 1;
  BIGNUM **grown = realloc(m->rpow, (size_t)k * sizeof(BIGNUM *));
  if (grown == NULL) return 0;
  m->rpow = grown;
  while (m->npow < k) {
    BIGNUM *p = BN_new();
    if (p == NULL) return 0;
    /* to_montgomery(a) = a * R mod n: of 1 it is R, of R^i it is R^(i+1). */
    int ok = m->npow == 0 ? BN_to_montgomery(p, BN_value_one(), m->mont, ctx)
                          : BN_to_montgomery(p, m->rpow[m->npow - 1], m->mont, ctx);
    if (!ok) {
      BN_clear_free(p);
      return 0;
    }
    m->rpow[m->npow++] = p;
  }
  return 1;
}

int ct_reduce(BIGNUM *r, const BIGNUM *x, ct_modulus *m, BN_CTX *ctx) {
  if (BN_is_negative(x)) return 0;
  int chunk_bits = 64 * m->words;
  int chunks = (BN_num_bits(x) + chunk_bits - 1) / chunk_bits;
  if (chunks == 0) chunks = 1;
  if (!ensure_rpow(m, chunks, ctx)) return 0;
  BN_CTX_start(ctx);
  BIGNUM *acc = BN_CTX_get(ctx);
  BIGNUM *chunk = BN_CTX_get(ctx);
  BIGNUM *term = BN_CTX_get(ctx);
  int ok = term != NULL;
  if (ok) BN_zero(acc);
  for (int i = 0; ok && i < chunks; i++) {
    ok = BN_rshift(chunk, x, chunk_bits * i);
    /* BN_mask_bits refuses a mask wider than the value: only the chunks below the top need it. */
    if (ok && BN_num_bits(chunk) > chunk_bits) ok = BN_mask_bits(chunk, chunk_bits);
    /*
     * chunk < R and R^(i+1) mod n < n, so the Montgomery product chunk * R^(i+1) * R^-1 is below
     * 2n before its final (masked) subtraction: the result is chunk * R^i mod n.
     */
    if (ok) ok = BN_mod_mul_montgomery(term, chunk, m->rpow[i], m->mont, ctx);
    if (ok) ok = BN_mod_add_quick(acc, acc, term, m->n);
  }
  if (ok) ok = BN_copy(r, acc) != NULL;
  BN_CTX_end(ctx);
  return ok;
}

int ct_pow(BIGNUM *r, const BIGNUM *base, const BIGNUM *exp, ct_modulus *m, BN_CTX *ctx) {
  if (BN_is_negative(exp)) return 0;
  BN_CTX_start(ctx);
  BIGNUM *b = BN_CTX_get(ctx);
  BIGNUM *e = BN_CTX_get(ctx);
  int ok = e != NULL && ct_reduce(b, base, m, ctx) && BN_copy(e, exp) != NULL;
  if (ok) {
    BN_set_flags(e, BN_FLG_CONSTTIME);
    ok = BN_mod_exp_mont_consttime(r, b, e, m->n, ctx, m->mont);
  }
  BN_CTX_end(ctx);
  return ok;
}

int ct_mul_add_mod(BIGNUM *r, const BIGNUM *a, const BIGNUM *x, const BIGNUM *y, ct_modulus *m,
                   BN_CTX *ctx) {
  if (BN_is_negative(a) || BN_is_negative(x) || BN_is_negative(y)) return 0;
  BN_CTX_start(ctx);
  BIGNUM *t = BN_CTX_get(ctx);
  int ok = t != NULL && BN_mul(t, x, y, ctx) && BN_uadd(t, t, a) && ct_reduce(r, t, m, ctx);
  BN_CTX_end(ctx);
  return ok;
}

int ct_add_mod(BIGNUM *r, const BIGNUM *a, const BIGNUM *b, const BIGNUM *m) {
  /* bn_mod_add_fixed_top underneath: add, subtract m, keep one of the two by the borrow mask. */
  return BN_mod_add_quick(r, a, b, m);
}

/* ---- Chinese remaindering ---- */

static BIGNUM *dup_secret(const BIGNUM *a) {
  BIGNUM *d = BN_dup(a);
  if (d != NULL) BN_set_flags(d, BN_FLG_CONSTTIME);
  return d;
}

/* A modulus context for phi / 2 when that is odd (phi = 2 mod 4), else NULL. */
static ct_modulus *odd_half(const BIGNUM *phi, BN_CTX *ctx) {
  /* phi mod 4 is a property of the key's kind (2 for safe primes), not a secret of this key. */
  if (BN_is_bit_set(phi, 0) || !BN_is_bit_set(phi, 1)) return NULL;
  BIGNUM *h = BN_new();
  ct_modulus *m = h != NULL && BN_rshift1(h, phi) ? ct_modulus_new(h, ctx) : NULL;
  BN_clear_free(h);
  return m;
}

/*
 * r = x mod phi for phi = 2 * o->n (o odd): r1 = x mod o by Montgomery, then r1 + o when r1 and
 * x differ in parity (o is odd, so adding it fixes the parity and keeps the residue mod o).
 */
static int reduce_mod_phi(BIGNUM *r, const BIGNUM *x, ct_modulus *o, BN_CTX *ctx) {
  size_t w = (size_t)o->words + 1;
  uint64_t *rl = calloc(w, sizeof(uint64_t));
  uint64_t *ol = calloc(w, sizeof(uint64_t));
  uint64_t *zero = calloc(w, sizeof(uint64_t));
  int ok = rl != NULL && ol != NULL && zero != NULL && ct_reduce(r, x, o, ctx) &&
           ct_bn_to_limbs(rl, w, r) && ct_bn_to_limbs(ol, w, o->n);
  if (ok) {
    uint64_t parity = (uint64_t)BN_is_bit_set(x, 0) ^ (rl[0] & 1);
    ct_limbs_select(ol, (uint64_t)0 - parity, ol, zero, w);
    ct_limbs_add(rl, rl, ol, w);
    ok = ct_limbs_to_bn(r, rl, w) != NULL;
  }
  if (rl != NULL) OPENSSL_cleanse(rl, w * sizeof(uint64_t));
  free(rl);
  free(ol);
  free(zero);
  return ok;
}

ct_crt *ct_crt_new(const BIGNUM *n1, const BIGNUM *phi1, const BIGNUM *n2, const BIGNUM *phi2,
                   BN_CTX *ctx) {
  ct_crt *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  BIGNUM *beta = BN_new();
  c->m1 = ct_modulus_new(n1, ctx);
  c->m2 = ct_modulus_new(n2, ctx);
  c->phi1 = dup_secret(phi1);
  c->phi2 = dup_secret(phi2);
  c->n1 = dup_secret(n1);
  c->beta_mont = BN_new();
  c->n = BN_new();
  if (c->phi1 != NULL && c->phi2 != NULL) {
    c->o1 = odd_half(c->phi1, ctx);
    c->o2 = odd_half(c->phi2, ctx);
  }
  if (beta == NULL || c->m1 == NULL || c->m2 == NULL || c->phi1 == NULL || c->phi2 == NULL ||
      c->n1 == NULL || c->beta_mont == NULL || c->n == NULL) {
    goto fail;
  }
  /* Once per key: OpenSSL's inversion without branches (both operands are flagged). */
  if (BN_mod_inverse(beta, c->n1, c->m2->n, ctx) == NULL) goto fail;
  if (!BN_to_montgomery(c->beta_mont, beta, c->m2->mont, ctx)) goto fail;
  if (!BN_mul(c->n, c->n1, c->m2->n, ctx)) goto fail;
  BN_clear_free(beta);
  return c;
fail:
  BN_clear_free(beta);
  ct_crt_free(c);
  return NULL;
}

void ct_crt_free(ct_crt *c) {
  if (c == NULL) return;
  ct_modulus_free(c->m1);
  ct_modulus_free(c->m2);
  ct_modulus_free(c->o1);
  ct_modulus_free(c->o2);
  BN_clear_free(c->phi1);
  BN_clear_free(c->phi2);
  BN_clear_free(c->n1);
  BN_clear_free(c->beta_mont);
  BN_clear_free(c->n);
  free(c);
}

int ct_crt_combine(BIGNUM *r, const BIGNUM *r1, const BIGNUM *r2, ct_crt *c, BN_CTX *ctx) {
  BN_CTX_start(ctx);
  BIGNUM *a = BN_CTX_get(ctx);
  BIGNUM *d = BN_CTX_get(ctx);
  BIGNUM *h = BN_CTX_get(ctx);
  /* d = (r2 - r1) mod n2 as r2 + (n2 - (r1 mod n2)): both terms at most n2, their sum below 2 n2. */
  int ok = h != NULL && ct_reduce(a, r1, c->m2, ctx) && BN_usub(d, c->m2->n, a) &&
           ct_add_mod(d, r2, d, c->m2->n) &&
           /* h = d * beta mod n2: one Montgomery product with beta * R. */
           BN_mod_mul_montgomery(h, d, c->beta_mont, c->m2->mont, ctx) &&
           BN_mul(h, h, c->n1, ctx) && BN_uadd(r, h, r1);
  BN_CTX_end(ctx);
  return ok;
}

int ct_crt_pow(BIGNUM *r, const BIGNUM *base, const BIGNUM *exp, int exp_negative, ct_crt *c,
               BN_CTX *ctx) {
  if (BN_is_negative(exp)) return 0;
  /* Without a reduction, phi_i - |exp| needs |exp| <= phi_i (the exponent is public then). */
  if (exp_negative && ((c->o1 == NULL && BN_ucmp(exp, c->phi1) > 0) ||
                       (c->o2 == NULL && BN_ucmp(exp, c->phi2) > 0))) {
    return 0;
  }
  BN_CTX_start(ctx);
  BIGNUM *e1 = BN_CTX_get(ctx);
  BIGNUM *e2 = BN_CTX_get(ctx);
  BIGNUM *r1 = BN_CTX_get(ctx);
  BIGNUM *r2 = BN_CTX_get(ctx);
  int ok = r2 != NULL;
  /* Each half's exponent mod phi_i when phi_i / 2 is odd, else the exponent as given. */
  if (ok) ok = c->o1 != NULL ? reduce_mod_phi(e1, exp, c->o1, ctx) : BN_copy(e1, exp) != NULL;
  if (ok) ok = c->o2 != NULL ? reduce_mod_phi(e2, exp, c->o2, ctx) : BN_copy(e2, exp) != NULL;
  if (ok && exp_negative) {
    /* b^-e = b^(phi - e) for a unit b: no inversion. */
    ok = BN_usub(e1, c->phi1, e1) && BN_usub(e2, c->phi2, e2);
  }
  ok = ok && ct_pow(r1, base, e1, c->m1, ctx) && ct_pow(r2, base, e2, c->m2, ctx) &&
       ct_crt_combine(r, r1, r2, c, ctx);
  BN_CTX_end(ctx);
  return ok;
}

/* Euler's criterion v^((p-1)/2) mod p for one odd prime modulus. */
static int legendre_half(int *j, const BIGNUM *v, ct_modulus *m, BN_CTX *ctx) {
  BN_CTX_start(ctx);
  BIGNUM *e = BN_CTX_get(ctx);
  BIGNUM *r = BN_CTX_get(ctx);
  /* p odd: subtracting 1 never borrows past the lowest limb. */
  int ok = r != NULL && BN_copy(e, m->n) != NULL && BN_sub_word(e, 1) && BN_rshift1(e, e) &&
           ct_pow(r, v, e, m, ctx);
  /* The symbol is public where it is used (Π^mod publishes a_i, b_i that follow from it). */
  if (ok) *j = BN_is_one(r) ? 1 : BN_is_zero(r) ? 0 : -1;
  BN_CTX_end(ctx);
  return ok;
}

int ct_crt_legendre(int *j1, int *j2, const BIGNUM *v, ct_crt *c, BN_CTX *ctx) {
  return legendre_half(j1, v, c->m1, ctx) && legendre_half(j2, v, c->m2, ctx);
}

/* ---- Paillier ---- */

/* h = ((a - 1) * b)^-1 mod a, in Montgomery form for `m` (a's modulus): the decryption constant. */
static BIGNUM *decryption_constant(const BIGNUM *a, const BIGNUM *b, ct_modulus *m, BN_CTX *ctx) {
  BN_CTX_start(ctx);
  BIGNUM *t = BN_CTX_get(ctx);
  BIGNUM *inv = BN_CTX_get(ctx);
  BIGNUM *out = BN_new();
  int ok = inv != NULL && out != NULL && BN_copy(t, a) != NULL && BN_sub_word(t, 1) &&
           BN_mul(t, t, b, ctx);
  if (ok) {
    BN_set_flags(t, BN_FLG_CONSTTIME);
    ok = BN_mod_inverse(inv, t, m->n, ctx) != NULL && BN_to_montgomery(out, inv, m->mont, ctx);
  }
  BN_CTX_end(ctx);
  if (!ok) {
    BN_clear_free(out);
    return NULL;
  }
  return out;
}

/* a^-1 mod 2^(64 words) for odd a: the L-function's exact division by a as one product. */
static BIGNUM *inverse_mod_2k(const BIGNUM *a, int words, BN_CTX *ctx) {
  BN_CTX_start(ctx);
  BIGNUM *two_k = BN_CTX_get(ctx);
  BIGNUM *sa = BN_CTX_get(ctx);
  BIGNUM *out = BN_new();
  int ok = sa != NULL && out != NULL && BN_lshift(two_k, BN_value_one(), 64 * words) &&
           BN_copy(sa, a) != NULL;
  if (ok) {
    BN_set_flags(sa, BN_FLG_CONSTTIME);
    ok = BN_mod_inverse(out, sa, two_k, ctx) != NULL;
  }
  BN_CTX_end(ctx);
  if (!ok) {
    BN_clear_free(out);
    return NULL;
  }
  return out;
}

ct_paillier *ct_paillier_new(const BIGNUM *p, const BIGNUM *q, BN_CTX *ctx) {
  ct_paillier *k = calloc(1, sizeof *k);
  if (k == NULL) return NULL;
  BN_CTX_start(ctx);
  BIGNUM *p2 = BN_CTX_get(ctx);
  BIGNUM *q2 = BN_CTX_get(ctx);
  BIGNUM *phi_p2 = BN_CTX_get(ctx);
  BIGNUM *phi_q2 = BN_CTX_get(ctx);
  k->pm1 = BN_dup(p);
  k->qm1 = BN_dup(q);
  k->N = BN_new();
  k->N2 = BN_new();
  k->half_n = BN_new();
  int ok = phi_q2 != NULL && k->pm1 != NULL && k->qm1 != NULL && k->N != NULL && k->N2 != NULL &&
           k->half_n != NULL && BN_sub_word(k->pm1, 1) && BN_sub_word(k->qm1, 1) &&
           BN_mul(p2, p, p, ctx) && BN_mul(q2, q, q, ctx) && BN_mul(phi_p2, p, k->pm1, ctx) &&
           BN_mul(phi_q2, q, k->qm1, ctx) && BN_mul(k->N, p, q, ctx) &&
           BN_mul(k->N2, k->N, k->N, ctx) && BN_rshift1(k->half_n, k->N);
  if (ok) {
    BN_set_flags(k->pm1, BN_FLG_CONSTTIME);
    BN_set_flags(k->qm1, BN_FLG_CONSTTIME);
    k->crt_n = ct_crt_new(p, k->pm1, q, k->qm1, ctx);
    k->crt_n2 = ct_crt_new(p2, phi_p2, q2, phi_q2, ctx);
    ok = k->crt_n != NULL && k->crt_n2 != NULL;
  }
  if (ok) {
    k->pwords = k->crt_n->m1->words;
    k->qwords = k->crt_n->m2->words;
    k->pinv = inverse_mod_2k(p, k->pwords, ctx);
    k->qinv = inverse_mod_2k(q, k->qwords, ctx);
    k->hp_mont = decryption_constant(p, q, k->crt_n->m1, ctx);
    k->hq_mont = decryption_constant(q, p, k->crt_n->m2, ctx);
    ok = k->pinv != NULL && k->qinv != NULL && k->hp_mont != NULL && k->hq_mont != NULL;
  }
  BN_CTX_end(ctx);
  if (!ok) {
    ct_paillier_free(k);
    return NULL;
  }
  return k;
}

void ct_paillier_free(ct_paillier *k) {
  if (k == NULL) return;
  ct_crt_free(k->crt_n);
  ct_crt_free(k->crt_n2);
  BN_clear_free(k->pm1);
  BN_clear_free(k->qm1);
  BN_clear_free(k->pinv);
  BN_clear_free(k->qinv);
  BN_clear_free(k->hp_mont);
  BN_clear_free(k->hq_mont);
  BN_free(k->N);
  BN_free(k->N2);
  BN_free(k->half_n);
  free(k);
}

/*
 * m_a = L_a(C^(a-1) mod a^2) * h_a mod a with L_a(u) = (u - 1) / a. The division is exact, so
 * (u - 1) * a^-1 mod 2^(64 words) is the quotient (it is below a < 2^(64 words)).
 */
static int decrypt_half(BIGNUM *out, const BIGNUM *C, ct_modulus *sq, const BIGNUM *am1,
                        const BIGNUM *ainv, int words, const BIGNUM *h_mont, ct_modulus *m,
                        BN_CTX *ctx) {
  BN_CTX_start(ctx);
  BIGNUM *u = BN_CTX_get(ctx);
  BIGNUM *L = BN_CTX_get(ctx);
  /* u = 0 only for a C that is not a unit, which callers refuse before. */
  int ok = L != NULL && ct_pow(u, C, am1, sq, ctx) && !BN_is_zero(u) &&
           BN_usub(u, u, BN_value_one()) && BN_mul(L, u, ainv, ctx);
  if (ok && BN_num_bits(L) > 64 * words) ok = BN_mask_bits(L, 64 * words);
  if (ok) ok = BN_mod_mul_montgomery(out, L, h_mont, m->mont, ctx);
  BN_CTX_end(ctx);
  return ok;
}

/*
 * One half of x^N mod N^2: x^N mod p^2 = (x^(N mod (p-1)) mod p)^p mod p^2. Write x = w(x)(1 + pt)
 * mod p^2 with w(x) the Teichmueller lift of x mod p (order dividing p - 1); (1 + pt)^N = 1 mod
 * p^2 because p | N, so x^N = w(x)^N = w(x^(N mod (p-1)) mod p), and w(y) = y^p mod p^2. An
 * exponentiation mod p with a half-size exponent and one mod p^2 with exponent p cost about 5/8
 * of x^(N mod p(p-1)) mod p^2. Both exponents are secret (functions of p, q): constant time.
 */
static int nth_power_half(BIGNUM *z, const BIGNUM *x, const BIGNUM *N, ct_modulus *mp,
                          ct_modulus *op, ct_modulus *mp2, BN_CTX *ctx) {
  BN_CTX_start(ctx);
  BIGNUM *e = BN_CTX_get(ctx);
  BIGNUM *y = BN_CTX_get(ctx);
  int ok = y != NULL && reduce_mod_phi(e, N, op, ctx) && ct_pow(y, x, e, mp, ctx) &&
           ct_pow(z, y, mp->n, mp2, ctx);
  BN_CTX_end(ctx);
  return ok;
}

int ct_paillier_nth_power(BIGNUM *r, const BIGNUM *x, ct_paillier *k, BN_CTX *ctx) {
  if (BN_is_negative(x)) return 0;
  ct_crt *cn = k->crt_n;
  /* p - 1 = 2 * odd is what the reduction needs (safe primes); any other key takes the long way. */
  if (cn->o1 == NULL || cn->o2 == NULL) return ct_crt_pow(r, x, k->N, 0, k->crt_n2, ctx);
  BN_CTX_start(ctx);
  BIGNUM *z1 = BN_CTX_get(ctx);
  BIGNUM *z2 = BN_CTX_get(ctx);
  int ok = z2 != NULL && nth_power_half(z1, x, k->N, cn->m1, cn->o1, k->crt_n2->m1, ctx) &&
           nth_power_half(z2, x, k->N, cn->m2, cn->o2, k->crt_n2->m2, ctx) &&
           ct_crt_combine(r, z1, z2, k->crt_n2, ctx);
  BN_CTX_end(ctx);
  return ok;
}

int ct_paillier_decrypt(BIGNUM *m, const BIGNUM *C, ct_paillier *k, BN_CTX *ctx) {
  if (BN_is_negative(C) || BN_ucmp(C, k->N2) >= 0) return 0;
  BN_CTX_start(ctx);
  BIGNUM *mp = BN_CTX_get(ctx);
  BIGNUM *mq = BN_CTX_get(ctx);
  int ok = mq != NULL &&
           decrypt_half(mp, C, k->crt_n2->m1, k->pm1, k->pinv, k->pwords, k->hp_mont, k->crt_n->m1,
                        ctx) &&
           decrypt_half(mq, C, k->crt_n2->m2, k->qm1, k->qinv, k->qwords, k->hq_mont, k->crt_n->m2,
                        ctx) &&
           ct_crt_combine(m, mp, mq, k->crt_n, ctx);
  BN_CTX_end(ctx);
  return ok;
}

int ct_paillier_decrypt_centred_mod(BIGNUM *r, const BIGNUM *C, ct_paillier *k, ct_modulus *qm,
                                    BN_CTX *ctx) {
  size_t nw = (size_t)((BN_num_bits(k->N) + 63) / 64);
  size_t qw = (size_t)qm->words;
  uint64_t *ml = calloc(nw, sizeof(uint64_t));
  uint64_t *hl = calloc(nw, sizeof(uint64_t));
  uint64_t *sl = calloc(qw, sizeof(uint64_t));
  uint64_t *zero = calloc(qw, sizeof(uint64_t));
  BN_CTX_start(ctx);
  BIGNUM *m = BN_CTX_get(ctx);
  BIGNUM *mq = BN_CTX_get(ctx);
  BIGNUM *s = BN_CTX_get(ctx);
  int ok = ml != NULL && hl != NULL && sl != NULL && zero != NULL && s != NULL &&
           ct_paillier_decrypt(m, C, k, ctx) && ct_bn_to_limbs(ml, nw, m) &&
           ct_bn_to_limbs(hl, nw, k->half_n) && ct_reduce(mq, m, qm, ctx) &&
           /* s = -N mod q (public). */
           BN_nnmod(s, k->N, qm->n, ctx) && (BN_is_zero(s) || BN_usub(s, qm->n, s)) &&
           ct_bn_to_limbs(sl, qw, s);
  if (ok) {
    /* The centred value is m - N when m > (N-1)/2: add -N mod q under that mask. */
    uint64_t above = ct_limbs_lt_mask(hl, ml, nw);
    ct_limbs_select(sl, above, sl, zero, qw);
    ok = ct_limbs_to_bn(s, sl, qw) != NULL && ct_add_mod(r, mq, s, qm->n);
  }
  BN_CTX_end(ctx);
  if (ml != NULL) OPENSSL_cleanse(ml, nw * sizeof(uint64_t));
  if (sl != NULL) OPENSSL_cleanse(sl, qw * sizeof(uint64_t));
  free(ml);
  free(hl);
  free(sl);
  free(zero);
  return ok;
}

/* ---- Proof responses ---- */

int ct_affine(BIGNUM *z, const BIGNUM *av, const BIGNUM *e_abs, int e_negative, const BIGNUM *xv,
              const BIGNUM *xo, BN_CTX *ctx) {
  if (BN_is_negative(av) || BN_is_negative(e_abs) || BN_is_negative(xv) || BN_is_negative(xo)) {
    return 0;
  }
  BN_CTX_start(ctx);
  BIGNUM *x = BN_CTX_get(ctx);
  BIGNUM *t = BN_CTX_get(ctx);
  int ok = t != NULL;
  if (ok && e_negative) {
    /* -x = (2 xo - xv) - xo: a subtraction from a public bound that never borrows. */
    ok = BN_lshift1(t, xo) && BN_ucmp(xv, t) <= 0 && BN_usub(x, t, xv);
  } else if (ok) {
    ok = BN_lshift1(t, xo) && BN_ucmp(xv, t) <= 0 && BN_copy(x, xv) != NULL;
  }
  ok = ok && BN_mul(t, e_abs, x, ctx) && BN_uadd(z, av, t);
  BN_CTX_end(ctx);
  return ok;
}

/*
 * ct_core: constant-time operations on secret values and secret moduli, over the public OpenSSL
 * BN API only (no Node-API), so that the same file builds into the addon (against the OpenSSL
 * that Node exports) and into the ctgrind harness of test/ct (against Debian's libcrypto).
 *
 * What "constant-time" means here, as in OpenSSL's own RSA code: the sequence of instructions
 * and memory accesses does not depend on the *values* of secrets; it may depend on their
 * *lengths* in 64-bit words (BIGNUMs drop leading zero words, so a secret whose top word is zero
 * takes a shorter path: a 2^-64 event for the values used here).
 *
 * The recipe follows OpenSSL's RSA private-key path:
 *  - every secret modulus carries BN_FLG_CONSTTIME and one Montgomery context built once, with
 *    that flag set, when the key is loaded (BN_MONT_CTX_set inverts the low word of the modulus:
 *    without the flag it takes the variable-time binary Euclid);
 *  - exponentiations use BN_mod_exp_mont_consttime with that context;
 *  - reductions modulo a secret (or public) odd modulus use Montgomery multiplication, never
 *    BN_div, whose quotient-correction loop is data-dependent on x86-64 (bn_div_fixed_top is
 *    constant-time only where bn_div_3_words is);
 *  - additions modulo a modulus use BN_mod_add_quick (masked conditional subtraction);
 *  - comparisons and selections on secrets use the masked limb helpers below.
 * One-off computations when a key is loaded (CRT coefficients, inverses) use OpenSSL's
 * constant-time-flagged inversion, as RSA key setup does.
 */
#ifndef VILNA_CT_CORE_H
#define VILNA_CT_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>

/* ---- Masked limb helpers (little-endian arrays of 64-bit limbs of one fixed width) ---- */

/* r = a + b over n limbs; returns the carry (0 or 1). r may alias a or b. */
uint64_t ct_limbs_add(uint64_t *r, const uint64_t *a, const uint64_t *b, size_t n);
/* r = a - b over n limbs; returns the borrow (0 or 1). r may alias a or b. */
uint64_t ct_limbs_sub(uint64_t *r, const uint64_t *a, const uint64_t *b, size_t n);
/* r = (mask == all ones) ? a : b, for mask 0 or all ones. */
void ct_limbs_select(uint64_t *r, uint64_t mask, const uint64_t *a, const uint64_t *b, size_t n);
/* All ones when a < b (unsigned, n limbs), else 0. */
uint64_t ct_limbs_lt_mask(const uint64_t *a, const uint64_t *b, size_t n);
/* Writes a (< 2^(64 n)) as exactly n limbs; 0 when it does not fit. */
int ct_bn_to_limbs(uint64_t *out, size_t n, const BIGNUM *a);
/* Sets r from n limbs; NULL on allocation failure. */
BIGNUM *ct_limbs_to_bn(BIGNUM *r, const uint64_t *in, size_t n);

/* ---- An odd modulus with its Montgomery context (secret or public) ---- */

typedef struct {
  BIGNUM *n;          /* the modulus, BN_FLG_CONSTTIME */
  BN_MONT_CTX *mont;  /* built once, with the flag set */
  int words;          /* limbs of n: R = 2^(64 words) */
  int npow;           /* entries of rpow */
  BIGNUM **rpow;      /* rpow[i] = R^(i+1) mod n, for chunked reduction; grown on demand */
} ct_modulus;

/* Copies n (odd, > 1). NULL on failure. Counts a Montgomery context in ct_mont_contexts_built. */
ct_modulus *ct_modulus_new(const BIGNUM *n, BN_CTX *ctx);
void ct_modulus_free(ct_modulus *m);
/* Montgomery contexts built by ct_modulus_new since the process started (tests: per key, once). */
uint64_t ct_mont_contexts_built(void);

/* r = x mod n for any x >= 0: x in chunks of R, each chunk times R^i by one Montgomery product. */
int ct_reduce(BIGNUM *r, const BIGNUM *x, ct_modulus *m, BN_CTX *ctx);
/* r = base^exp mod n, base >= 0 of any size (reduced first), exp >= 0 secret. */
int ct_pow(BIGNUM *r, const BIGNUM *base, const BIGNUM *exp, ct_modulus *m, BN_CTX *ctx);
/* r = (a + x*y) mod n for a, x, y >= 0. */
int ct_mul_add_mod(BIGNUM *r, const BIGNUM *a, const BIGNUM *x, const BIGNUM *y, ct_modulus *m,
                   BN_CTX *ctx);
/* r = (a + b) mod m for 0 <= a, b < m; any m > 0 (also even, e.g. phi). */
int ct_add_mod(BIGNUM *r, const BIGNUM *a, const BIGNUM *b, const BIGNUM *m);

/* ---- Chinese remaindering over n = n1 * n2 with known factors ---- */

typedef struct {
  ct_modulus *m1, *m2;
  BIGNUM *phi1, *phi2;  /* group orders used to invert by exponentiation, BN_FLG_CONSTTIME */
  /*
   * phi_i / 2 when it is odd (safe primes: p - 1 = 2p', p(p - 1) = 2pp'), else NULL: exponents are
   * then reduced mod phi_i in constant time (mod the odd half by Montgomery, then the parity
   * fixed by a masked add), so a full-length secret exponent costs a half-length one.
   */
  ct_modulus *o1, *o2;
  BIGNUM *n1;           /* copy of m1->n for the recombination product */
  BIGNUM *beta_mont;    /* (n1^-1 mod n2) * R2 mod n2 */
  BIGNUM *n;            /* n1 * n2 */
} ct_crt;

/* n1, n2 odd and coprime; phi_i a multiple of the order of Z*_{n_i} (used for negative exponents). */
ct_crt *ct_crt_new(const BIGNUM *n1, const BIGNUM *phi1, const BIGNUM *n2, const BIGNUM *phi2,
                   BN_CTX *ctx);
void ct_crt_free(ct_crt *c);
/* r = r1 + n1 * ((r2 - r1) * n1^-1 mod n2) for r1 < n1, r2 < n2: the residue mod n1 * n2. */
int ct_crt_combine(BIGNUM *r, const BIGNUM *r1, const BIGNUM *r2, ct_crt *c, BN_CTX *ctx);
/*
 * r = base^exp mod n. exp >= 0 is used as is; with exp_negative the exponent is -exp, computed
 * as phi_i - exp in each half (base must then be a unit and exp <= phi_i). The sign is public.
 */
int ct_crt_pow(BIGNUM *r, const BIGNUM *base, const BIGNUM *exp, int exp_negative, ct_crt *c,
               BN_CTX *ctx);
/* Euler's criterion in each half (n1, n2 prime): *j1 = (v/n1), *j2 = (v/n2) in {-1, 0, 1}. */
int ct_crt_legendre(int *j1, int *j2, const BIGNUM *v, ct_crt *c, BN_CTX *ctx);

/* ---- Paillier secret key operations (spec "Paillier Encryption Scheme", g = 1 + N) ---- */

typedef struct {
  ct_crt *crt_n;   /* over p, q */
  ct_crt *crt_n2;  /* over p^2, q^2 */
  BIGNUM *pm1, *qm1;          /* p - 1, q - 1 (decryption exponents), BN_FLG_CONSTTIME */
  BIGNUM *pinv, *qinv;        /* p^-1, q^-1 mod 2^(64 words(p)): exact division by p, q */
  BIGNUM *hp_mont, *hq_mont;  /* hp = ((p-1) q)^-1 mod p in Montgomery form; hq likewise */
  int pwords, qwords;
  BIGNUM *N, *N2, *half_n;    /* public: N, N^2, (N - 1) / 2 */
} ct_paillier;

/* p, q distinct odd primes (a corrupt party's may be of any sizes). NULL on failure. */
ct_paillier *ct_paillier_new(const BIGNUM *p, const BIGNUM *q, BN_CTX *ctx);
void ct_paillier_free(ct_paillier *k);
/* r = x^N mod N^2 for x >= 0 (the randomness term of an encryption), through p, q (ct_core.c). */
int ct_paillier_nth_power(BIGNUM *r, const BIGNUM *x, ct_paillier *k, BN_CTX *ctx);
/* m = dec(C) in [0, N) for C in Z*_{N^2}: L-function by exact division, CRT recombination. */
int ct_paillier_decrypt(BIGNUM *m, const BIGNUM *C, ct_paillier *k, BN_CTX *ctx);
/* r = (dec(C) taken in (-N/2, N/2]) mod q, for the modulus q of `qm` (the MtA share mod q). */
int ct_paillier_decrypt_centred_mod(BIGNUM *r, const BIGNUM *C, ct_paillier *k, ct_modulus *qm,
                                    BN_CTX *ctx);

/* ---- Proof responses over the integers ---- */

/*
 * z = av + |e| * (e_negative ? 2 xo - xv : xv) for secret av, xv >= 0 with xv <= 2 xo and a
 * public e: the response alpha + e*x of a proof (alpha = av - ao, x = xv - xo), before the public
 * correction ao + |e| xo that the caller subtracts. Everything added is non-negative, so no
 * step compares secrets.
 */
int ct_affine(BIGNUM *z, const BIGNUM *av, const BIGNUM *e_abs, int e_negative, const BIGNUM *xv,
              const BIGNUM *xo, BN_CTX *ctx);

#endif /* VILNA_CT_CORE_H */

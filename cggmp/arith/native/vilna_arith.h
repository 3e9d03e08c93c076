/*
 * vilna_arith: big-integer operations over the OpenSSL BN functions that the Node binary itself
 * exports (DESIGN §3 "Arithmetic engine"). No system libcrypto is linked: every BN_* symbol is
 * resolved from the node process when the addon is loaded.
 *
 * Shared declarations of the two translation units:
 *   vilna_arith.c  module registration, BigInt <-> BIGNUM conversion, modexp, inverse;
 *   fixed_base.c   the fixed-base multi-exponentiation table (spec "Speeding up Fixed-Based
 *                  Multiexponentiation Using Preprocessing");
 *   secret_ops.c   handles over ct_core.c: secret moduli, CRT and Paillier keys, proof responses.
 */
#ifndef VILNA_ARITH_H
#define VILNA_ARITH_H

#include <stddef.h>
#include <stdint.h>

#include <node_api.h>
#include <openssl/bn.h>

/*
 * Error codes put on the thrown Error's `code`. native-backend.ts maps every ERR_VILNA_ARITH_*
 * error to ArithError; a TypeError (argument not a BigInt / not a table) is passed through.
 */
#define VA_E_DOMAIN "ERR_VILNA_ARITH_DOMAIN"
#define VA_E_NOT_INVERTIBLE "ERR_VILNA_ARITH_NOT_INVERTIBLE"
#define VA_E_INTERNAL "ERR_VILNA_ARITH_INTERNAL"
#define VA_E_TYPE "ERR_VILNA_ARITH_TYPE"

/* Largest accepted operand, in 64-bit words (2^22 bits): far above any protocol value, and small
 * enough that every byte count below fits an int (BN_lebin2bn takes an int length). */
#define VA_MAX_WORDS ((size_t)1 << 16)

/* Whether a value is secret: secret values are wiped from every buffer that held them. */
typedef enum { VA_PUBLIC = 0, VA_SECRET = 1 } va_secrecy;

/* A non-negative BigInt as little-endian 64-bit words (count may be 0 for 0n). */
typedef struct {
  uint64_t *words;
  size_t count;
} va_words;

/*
 * Throws an Error (a TypeError for VA_E_TYPE) whose `code` is `code` and whose message is the
 * formatted text; always returns NULL. Messages name operations and arguments, never values.
 */
napi_value va_throw(napi_env env, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads `argc` arguments; throws a TypeError and returns 0 if fewer were passed. */
int va_args(napi_env env, napi_callback_info info, const char *op, size_t argc, napi_value *argv);

/* Reads a non-negative BigInt. Returns 0 after throwing (TypeError or domain error). */
int va_get_words(napi_env env, napi_value v, const char *op, const char *name, va_words *out);
void va_free_words(va_words *w, va_secrecy secrecy);

/* Reads a non-negative BigInt into a new BIGNUM; NULL after throwing. */
BIGNUM *va_get_bn(napi_env env, napi_value v, const char *op, const char *name, va_secrecy secrecy);
void va_free_bn(BIGNUM *bn, va_secrecy secrecy);

/* Reads a BigInt of either sign: its magnitude as a new BIGNUM, its sign in *negative. */
BIGNUM *va_get_bn_signed(napi_env env, napi_value v, const char *op, const char *name,
                         va_secrecy secrecy, int *negative);

/* Reads a modulus and checks it is odd and > 1 (Montgomery arithmetic); NULL after throwing. */
BIGNUM *va_get_odd_modulus(napi_env env, napi_value v, const char *op);

/* Converts a BIGNUM to a BigInt; NULL after throwing. */
napi_value va_make_bigint(napi_env env, const BIGNUM *bn, va_secrecy secrecy);

/* Reads a 32-bit integer argument in [lo, hi]; returns 0 after throwing. */
int va_get_int(napi_env env, napi_value v, const char *op, const char *name, int lo, int hi,
               int *out);

/* secret_ops.c: handles for secret moduli, CRT and Paillier keys; adds their functions to exports. */
int va_register_secret_ops(napi_env env, napi_value exports);

/* fixed_base.c */
napi_value va_table_new(napi_env env, napi_callback_info info);
napi_value va_table_pow2(napi_env env, napi_callback_info info);

#endif /* VILNA_ARITH_H */

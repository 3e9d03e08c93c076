/*
 * pkcs11-fault: a PKCS#11 module that stands in front of a real one and injects faults at the
 * PKCS#11 boundary (DESIGN §6 layer 2: faults are injected there, not by replacing the vault).
 *
 * The real module is named by VILNA_FAULT_MODULE. Its function list is copied and the entries
 * the vault uses are replaced by wrappers that consult the control file named by
 * VILNA_FAULT_CONTROL before each call. The file is re-read whenever its stat identity (inode,
 * mtime, size) changes, so a test changes faults by replacing the file atomically. One rule per
 * line, the first matching rule that still has firings left wins:
 *
 *   <function|*> fail <CKR>         return CKR without calling the real module
 *   <function|*> fail-after <CKR>   call the real module, then return CKR if it succeeded
 *                                   (the effect happened, the caller never hears it)
 *   <function|*> hang <ms>          sleep ms (a bounded hang), then return CKR_DEVICE_ERROR
 *   <function|*> slow <ms>          sleep ms, then forward
 *   <function|*> removed            CKR_TOKEN_NOT_PRESENT for slot calls, CKR_DEVICE_REMOVED else
 *   ... count <N>                   optional suffix: fire only the next N times
 *
 * CKR is a name (CKR_DEVICE_ERROR) or a number (0x30). `count` is shared by every process using
 * the same control file: each firing claims a marker file "<control>.fired.<generation>.<rule>.<k>"
 * with O_EXCL, so a vault that restarts its PKCS#11 host process does not see the fault again.
 * Development and tests only.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11.h"

#define EXPORT __attribute__((visibility("default")))

/* Control files are a handful of short lines; anything longer is a mistake. */
#define MAX_RULES 32
#define MAX_CONTROL_BYTES 8192
#define MAX_NAME 48

enum action { ACT_FAIL, ACT_FAIL_AFTER, ACT_HANG, ACT_SLOW, ACT_REMOVED };
enum kind { KIND_SLOT, KIND_SESSION };
enum verdict { FORWARD, RETURN_NOW, FORWARD_THEN_FAIL };

struct rule {
  char fn[MAX_NAME];
  enum action action;
  CK_RV rv;
  unsigned long ms;
  long count; /* -1: every call */
  int exhausted;
};

struct decision {
  enum verdict verdict;
  CK_RV rv;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST shim;
static CK_RV load_rv = CKR_GENERAL_ERROR;

static struct rule rules[MAX_RULES];
static int nrules;
static int have_stat;
static struct stat seen;
static char generation[96];

static const struct {
  const char *name;
  CK_RV rv;
} ckr_names[] = {
    {"CKR_HOST_MEMORY", CKR_HOST_MEMORY},
    {"CKR_GENERAL_ERROR", CKR_GENERAL_ERROR},
    {"CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED},
    {"CKR_DEVICE_ERROR", CKR_DEVICE_ERROR},
    {"CKR_DEVICE_MEMORY", CKR_DEVICE_MEMORY},
    {"CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED},
    {"CKR_ENCRYPTED_DATA_INVALID", CKR_ENCRYPTED_DATA_INVALID},
    {"CKR_KEY_HANDLE_INVALID", CKR_KEY_HANDLE_INVALID},
    {"CKR_OBJECT_HANDLE_INVALID", CKR_OBJECT_HANDLE_INVALID},
    {"CKR_OPERATION_ACTIVE", CKR_OPERATION_ACTIVE},
    {"CKR_PIN_INCORRECT", CKR_PIN_INCORRECT},
    {"CKR_PIN_EXPIRED", CKR_PIN_EXPIRED},
    {"CKR_PIN_LOCKED", CKR_PIN_LOCKED},
    {"CKR_SESSION_CLOSED", CKR_SESSION_CLOSED},
    {"CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID},
    {"CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT},
    {"CKR_TOKEN_NOT_RECOGNIZED", CKR_TOKEN_NOT_RECOGNIZED},
    {"CKR_TOKEN_WRITE_PROTECTED", CKR_TOKEN_WRITE_PROTECTED},
    {"CKR_USER_NOT_LOGGED_IN", CKR_USER_NOT_LOGGED_IN},
    {"CKR_CRYPTOKI_NOT_INITIALIZED", CKR_CRYPTOKI_NOT_INITIALIZED},
};

static void warn(const char *what, const char *detail) {
  fprintf(stderr, "pkcs11-fault: %s: %s\n", what, detail);
}

static int parse_ckr(const char *s, CK_RV *out) {
  for (size_t i = 0; i < sizeof ckr_names / sizeof ckr_names[0]; i++) {
    if (strcmp(s, ckr_names[i].name) == 0) {
      *out = ckr_names[i].rv;
      return 1;
    }
  }
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 0);
  if (errno != 0 || end == s || *end != '\0') return 0;
  *out = (CK_RV)v;
  return 1;
}

static int parse_ulong(const char *s, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') return 0;
  *out = v;
  return 1;
}

/* Parses one line into r; returns 0 (and warns) when the line is not a rule. */
static int parse_rule(char *line, struct rule *r) {
  char *words[6];
  int n = 0;
  for (char *save = NULL, *w = strtok_r(line, " \t\r", &save); w != NULL && n < 6; w = strtok_r(NULL, " \t\r", &save)) words[n++] = w;
  if (n == 0 || words[0][0] == '#') return 0;
  if (n < 2 || strlen(words[0]) >= MAX_NAME) goto bad;
  memset(r, 0, sizeof *r);
  strcpy(r->fn, words[0]);
  r->count = -1;
  int next;
  if (strcmp(words[1], "removed") == 0) {
    r->action = ACT_REMOVED;
    next = 2;
  } else if (n >= 3 && (strcmp(words[1], "fail") == 0 || strcmp(words[1], "fail-after") == 0)) {
    r->action = words[1][4] == '\0' ? ACT_FAIL : ACT_FAIL_AFTER;
    if (!parse_ckr(words[2], &r->rv)) goto bad;
    next = 3;
  } else if (n >= 3 && (strcmp(words[1], "hang") == 0 || strcmp(words[1], "slow") == 0)) {
    r->action = words[1][0] == 'h' ? ACT_HANG : ACT_SLOW;
    if (!parse_ulong(words[2], &r->ms)) goto bad;
    r->rv = CKR_DEVICE_ERROR;
    next = 3;
  } else {
    goto bad;
  }
  if (n == next) return 1;
  unsigned long count;
  if (n == next + 2 && strcmp(words[next], "count") == 0 && parse_ulong(words[next + 1], &count)) {
    r->count = (long)count;
    return 1;
  }
bad:
  warn("ignoring control line starting with", words[0]);
  return 0;
}

/* Re-reads the control file when its stat identity changed. Called with the lock held. */
static void refresh_rules(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    nrules = 0;
    have_stat = 0;
    return;
  }
  if (have_stat && st.st_ino == seen.st_ino && st.st_size == seen.st_size && st.st_mtim.tv_sec == seen.st_mtim.tv_sec &&
      st.st_mtim.tv_nsec == seen.st_mtim.tv_nsec) {
    return;
  }
  nrules = 0;
  have_stat = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  /* Identity of what was read, taken from the open file so a concurrent replace cannot mix two. */
  if (fstat(fd, &st) != 0) {
    close(fd);
    return;
  }
  char buf[MAX_CONTROL_BYTES + 1];
  ssize_t len = read(fd, buf, MAX_CONTROL_BYTES);
  close(fd);
  if (len < 0) return;
  buf[len] = '\0';
  for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line != NULL && nrules < MAX_RULES; line = strtok_r(NULL, "\n", &save)) {
    if (parse_rule(line, &rules[nrules])) nrules++;
  }
  seen = st;
  have_stat = 1;
  snprintf(generation, sizeof generation, "%lu-%ld-%ld", (unsigned long)st.st_ino, (long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
}

/* Claims one of the rule's N firings across processes; 0 when all are used. Lock held. */
static int claim_firing(const char *path, int index, struct rule *r) {
  if (r->count < 0) return 1;
  char marker[PATH_MAX];
  for (long k = 0; k < r->count; k++) {
    if (snprintf(marker, sizeof marker, "%s.fired.%s.%d.%ld", path, generation, index, k) >= (int)sizeof marker) break;
    int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      close(fd);
      return 1;
    }
    if (errno != EEXIST) break;
  }
  r->exhausted = 1;
  return 0;
}

static void sleep_ms(unsigned long ms) {
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* What the wrapper of fn should do; sleeps (outside the lock) for hang and slow. */
static void decide(const char *fn, enum kind kind, struct decision *d) {
  d->verdict = FORWARD;
  d->rv = CKR_OK;
  const char *path = getenv("VILNA_FAULT_CONTROL");
  if (path == NULL || *path == '\0') return;
  unsigned long sleep_for = 0;
  pthread_mutex_lock(&lock);
  refresh_rules(path);
  for (int i = 0; i < nrules; i++) {
    struct rule *r = &rules[i];
    if (r->exhausted || (strcmp(r->fn, "*") != 0 && strcmp(r->fn, fn) != 0)) continue;
    if (!claim_firing(path, i, r)) continue;
    switch (r->action) {
      case ACT_FAIL:
        d->verdict = RETURN_NOW;
        d->rv = r->rv;
        break;
      case ACT_FAIL_AFTER:
        d->verdict = FORWARD_THEN_FAIL;
        d->rv = r->rv;
        break;
      case ACT_HANG:
        d->verdict = RETURN_NOW;
        d->rv = r->rv;
        sleep_for = r->ms;
        break;
      case ACT_SLOW:
        sleep_for = r->ms;
        break;
      case ACT_REMOVED:
        d->verdict = RETURN_NOW;
        d->rv = kind == KIND_SLOT ? CKR_TOKEN_NOT_PRESENT : CKR_DEVICE_REMOVED;
        break;
    }
    break;
  }
  pthread_mutex_unlock(&lock);
  if (sleep_for > 0) sleep_ms(sleep_for);
}

#define WRAP(NAME, KIND, PARAMS, ARGS)                                \
  static CK_RV w_##NAME PARAMS {                                      \
    struct decision d;                                                \
    decide(#NAME, KIND, &d);                                          \
    if (d.verdict == RETURN_NOW) return d.rv;                         \
    CK_RV rv = real->NAME ARGS;                                       \
    if (d.verdict == FORWARD_THEN_FAIL && rv == CKR_OK) return d.rv; \
    return rv;                                                        \
  }

WRAP(C_GetTokenInfo, KIND_SLOT, (CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info), (slot, info))
WRAP(C_OpenSession, KIND_SLOT, (CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify, CK_SESSION_HANDLE_PTR ph),
     (slot, flags, app, notify, ph))
WRAP(C_GetSessionInfo, KIND_SESSION, (CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info), (h, info))
WRAP(C_Login, KIND_SESSION, (CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pinLen), (h, user, pin, pinLen))
WRAP(C_CreateObject, KIND_SESSION, (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR ph), (h, t, n, ph))
WRAP(C_DestroyObject, KIND_SESSION, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o), (h, o))
WRAP(C_GetAttributeValue, KIND_SESSION, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n), (h, o, t, n))
WRAP(C_FindObjectsInit, KIND_SESSION, (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n), (h, t, n))
WRAP(C_FindObjects, KIND_SESSION, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR ph, CK_ULONG max, CK_ULONG_PTR count), (h, ph, max, count))
WRAP(C_FindObjectsFinal, KIND_SESSION, (CK_SESSION_HANDLE h), (h))
WRAP(C_EncryptInit, KIND_SESSION, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (h, m, k))
WRAP(C_Encrypt, KIND_SESSION, (CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen),
     (h, in, inLen, out, outLen))
WRAP(C_EncryptUpdate, KIND_SESSION, (CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen),
     (h, in, inLen, out, outLen))
WRAP(C_EncryptFinal, KIND_SESSION, (CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outLen), (h, out, outLen))
WRAP(C_DecryptInit, KIND_SESSION, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (h, m, k))
WRAP(C_Decrypt, KIND_SESSION, (CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen),
     (h, in, inLen, out, outLen))
WRAP(C_DecryptUpdate, KIND_SESSION, (CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen),
     (h, in, inLen, out, outLen))
WRAP(C_DecryptFinal, KIND_SESSION, (CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outLen), (h, out, outLen))
WRAP(C_SignInit, KIND_SESSION, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (h, m, k))
WRAP(C_Sign, KIND_SESSION, (CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR sig, CK_ULONG_PTR sigLen),
     (h, in, inLen, sig, sigLen))
WRAP(C_SignUpdate, KIND_SESSION, (CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inLen), (h, in, inLen))
WRAP(C_SignFinal, KIND_SESSION, (CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sigLen), (h, sig, sigLen))
WRAP(C_GenerateKey, KIND_SESSION, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR ph),
     (h, m, t, n, ph))
WRAP(C_GenerateKeyPair, KIND_SESSION,
     (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pubT, CK_ULONG pubN, CK_ATTRIBUTE_PTR privT, CK_ULONG privN,
      CK_OBJECT_HANDLE_PTR phPub, CK_OBJECT_HANDLE_PTR phPriv),
     (h, m, pubT, pubN, privT, privN, phPub, phPriv))
WRAP(C_GenerateRandom, KIND_SESSION, (CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len), (h, out, len))

static void load_real(void) {
  const char *path = getenv("VILNA_FAULT_MODULE");
  if (path == NULL || *path == '\0') {
    warn("VILNA_FAULT_MODULE", "not set (the real PKCS#11 module to wrap)");
    return;
  }
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL) {
    warn("dlopen", dlerror());
    return;
  }
  CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList");
  if (get == NULL) {
    warn("dlsym C_GetFunctionList", dlerror());
    return;
  }
  CK_RV rv = get(&real);
  if (rv != CKR_OK || real == NULL) {
    load_rv = rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
    return;
  }
  shim = *real;
  shim.C_GetFunctionList = C_GetFunctionList;
  shim.C_GetTokenInfo = w_C_GetTokenInfo;
  shim.C_OpenSession = w_C_OpenSession;
  shim.C_GetSessionInfo = w_C_GetSessionInfo;
  shim.C_Login = w_C_Login;
  shim.C_CreateObject = w_C_CreateObject;
  shim.C_DestroyObject = w_C_DestroyObject;
  shim.C_GetAttributeValue = w_C_GetAttributeValue;
  shim.C_FindObjectsInit = w_C_FindObjectsInit;
  shim.C_FindObjects = w_C_FindObjects;
  shim.C_FindObjectsFinal = w_C_FindObjectsFinal;
  shim.C_EncryptInit = w_C_EncryptInit;
  shim.C_Encrypt = w_C_Encrypt;
  shim.C_EncryptUpdate = w_C_EncryptUpdate;
  shim.C_EncryptFinal = w_C_EncryptFinal;
  shim.C_DecryptInit = w_C_DecryptInit;
  shim.C_Decrypt = w_C_Decrypt;
  shim.C_DecryptUpdate = w_C_DecryptUpdate;
  shim.C_DecryptFinal = w_C_DecryptFinal;
  shim.C_SignInit = w_C_SignInit;
  shim.C_Sign = w_C_Sign;
  shim.C_SignUpdate = w_C_SignUpdate;
  shim.C_SignFinal = w_C_SignFinal;
  shim.C_GenerateKey = w_C_GenerateKey;
  shim.C_GenerateKeyPair = w_C_GenerateKeyPair;
  shim.C_GenerateRandom = w_C_GenerateRandom;
  load_rv = CKR_OK;
}

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList) {
  if (ppFunctionList == NULL_PTR) return CKR_ARGUMENTS_BAD;
  pthread_once(&load_once, load_real);
  if (load_rv != CKR_OK) return load_rv;
  *ppFunctionList = &shim;
  return CKR_OK;
}

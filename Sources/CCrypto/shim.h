// libcrypto (OpenSSL 3): HMAC-SHA256 for request and response signatures, loaded with
// dlopen("libcrypto.so.3") the first time a signature is made (see CCurl/shim.h for why not linked).
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    int ok;
    char error[256];
    const void *(*evp_sha256)(void);
    unsigned char *(*hmac)(const void *, const void *, int, const unsigned char *, size_t, unsigned char *, unsigned int *);
    int (*memcmp)(const void *, const void *, size_t);
    // Only for `chekt-bridge version`: its absence does not make the library unusable.
    const char *(*openssl_version)(int);
} chekt_crypto_api_t;

// Storage lives in function-local statics: Swift's importer emits the functions a module uses, not header globals.
// (Each object file that calls these gets its own copy, loaded once by its own pthread_once: harmless, dlopen
// returns the same library.)
static inline chekt_crypto_api_t *chekt_crypto_api(void) { static chekt_crypto_api_t table; return &table; }
static inline pthread_once_t *chekt_crypto_once_flag(void) { static pthread_once_t once = PTHREAD_ONCE_INIT; return &once; }
#define chekt_crypto_table (*chekt_crypto_api())

static void chekt_crypto_load_once(void) {
    void *lib = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(chekt_crypto_table.error, sizeof chekt_crypto_table.error, "cannot load libcrypto.so.3 (%s); install libssl3", dlerror());
        return;
    }
    *(void **)(&chekt_crypto_table.evp_sha256) = dlsym(lib, "EVP_sha256");
    *(void **)(&chekt_crypto_table.hmac) = dlsym(lib, "HMAC");
    *(void **)(&chekt_crypto_table.memcmp) = dlsym(lib, "CRYPTO_memcmp");
    *(void **)(&chekt_crypto_table.openssl_version) = dlsym(lib, "OpenSSL_version");
    if (!chekt_crypto_table.evp_sha256 || !chekt_crypto_table.hmac || !chekt_crypto_table.memcmp) {
        snprintf(chekt_crypto_table.error, sizeof chekt_crypto_table.error, "libcrypto.so.3 lacks EVP_sha256, HMAC or CRYPTO_memcmp");
        return;
    }
    chekt_crypto_table.ok = 1;
}

/// Loads libcrypto once (thread-safe). NULL when usable, else why not.
static inline const char *chekt_crypto_load(void) {
    pthread_once(chekt_crypto_once_flag(), chekt_crypto_load_once);
    return chekt_crypto_table.ok ? NULL : chekt_crypto_table.error;
}

/// HMAC-SHA256 of `data` under `key` into `out` (32 bytes). 0 on success.
static inline int chekt_hmac_sha256(const void *key, int keyLength, const unsigned char *data, size_t length, unsigned char *out) {
    if (chekt_crypto_load()) return -1;
    unsigned int outLength = 32;
    return chekt_crypto_table.hmac(chekt_crypto_table.evp_sha256(), key, keyLength, data, length, out, &outLength) ? 0 : -1;
}

/// `CRYPTO_memcmp`: time independent of where the buffers differ. 0 when equal.
static inline int chekt_crypto_memcmp(const void *a, const void *b, size_t length) {
    if (chekt_crypto_load()) return -1;
    return chekt_crypto_table.memcmp(a, b, length);
}

/// `OpenSSL_version(OPENSSL_VERSION)`, e.g. "OpenSSL 3.0.19 27 Jan 2026"; NULL when libcrypto cannot be loaded
/// or lacks the function (see `chekt_crypto_load` for why).
static inline const char *chekt_crypto_version(void) {
    if (chekt_crypto_load() || !chekt_crypto_table.openssl_version) return NULL;
    return chekt_crypto_table.openssl_version(0 /* OPENSSL_VERSION */);
}

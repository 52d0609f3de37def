// libcurl's easy interface, loaded with dlopen("libcurl.so.4") the first time the platform link needs it.
//
// Why not link it: Debian's libcurl pulls in about 30 libraries (OpenSSL, GnuTLS through librtmp, Kerberos,
// LDAP, libssh2...), ~5 MB of resident pages that an agent in local mode (the bench, the simulated demo) never
// uses. Only the types and constants come from <curl/curl.h>; every call goes through the table below.
// curl_easy_setopt/getinfo are variadic and do not import into Swift: typed wrappers follow.
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

typedef struct {
    int ok;
    char error[512];
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    char *(*version)(void);
} chekt_curl_api_t;

// Storage lives in function-local statics: Swift's importer emits the functions a module uses, not header globals.
// Each object file that calls these gets its own copy, so every wrapper makes sure its copy is loaded
// (pthread_once: a load the first time, a check after); dlopen returns the same library to all of them.
static inline chekt_curl_api_t *chekt_curl_api(void) { static chekt_curl_api_t table; return &table; }
static inline pthread_once_t *chekt_curl_once_flag(void) { static pthread_once_t once = PTHREAD_ONCE_INIT; return &once; }
#define chekt_curl_table (*chekt_curl_api())

static void chekt_curl_load_once(void) {
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(chekt_curl_table.error, sizeof chekt_curl_table.error, "cannot load libcurl.so.4 (%s); install libcurl4", dlerror());
        return;
    }
#define CHEKT_LOAD(field, name) \
    *(void **)(&chekt_curl_table.field) = dlsym(lib, name); \
    if (!chekt_curl_table.field) { snprintf(chekt_curl_table.error, sizeof chekt_curl_table.error, "libcurl.so.4 has no %s", name); return; }
    CHEKT_LOAD(global_init, "curl_global_init")
    CHEKT_LOAD(easy_init, "curl_easy_init")
    CHEKT_LOAD(easy_cleanup, "curl_easy_cleanup")
    CHEKT_LOAD(easy_reset, "curl_easy_reset")
    CHEKT_LOAD(easy_perform, "curl_easy_perform")
    CHEKT_LOAD(easy_setopt, "curl_easy_setopt")
    CHEKT_LOAD(easy_getinfo, "curl_easy_getinfo")
    CHEKT_LOAD(easy_strerror, "curl_easy_strerror")
    CHEKT_LOAD(slist_append, "curl_slist_append")
    CHEKT_LOAD(slist_free_all, "curl_slist_free_all")
    CHEKT_LOAD(version, "curl_version")
#undef CHEKT_LOAD
    chekt_curl_table.ok = 1;
}

/// Loads libcurl once (thread-safe). NULL when it is usable, else why not. Call before any other chekt_curl_ function.
static inline const char *chekt_curl_load(void) {
    pthread_once(chekt_curl_once_flag(), chekt_curl_load_once);
    return chekt_curl_table.ok ? NULL : chekt_curl_table.error;
}

static inline CURLcode chekt_curl_global_init(long flags) { (void)chekt_curl_load(); return chekt_curl_table.global_init(flags); }
static inline CURL *chekt_curl_easy_init(void) { (void)chekt_curl_load(); return chekt_curl_table.easy_init(); }
static inline void chekt_curl_easy_cleanup(CURL *h) { (void)chekt_curl_load(); chekt_curl_table.easy_cleanup(h); }
static inline void chekt_curl_easy_reset(CURL *h) { (void)chekt_curl_load(); chekt_curl_table.easy_reset(h); }
static inline CURLcode chekt_curl_easy_perform(CURL *h) { (void)chekt_curl_load(); return chekt_curl_table.easy_perform(h); }
static inline const char *chekt_curl_easy_strerror(CURLcode c) { (void)chekt_curl_load(); return chekt_curl_table.easy_strerror(c); }
static inline struct curl_slist *chekt_curl_slist_append(struct curl_slist *l, const char *s) { (void)chekt_curl_load(); return chekt_curl_table.slist_append(l, s); }
static inline void chekt_curl_slist_free_all(struct curl_slist *l) { (void)chekt_curl_load(); chekt_curl_table.slist_free_all(l); }
static inline const char *chekt_curl_version(void) { (void)chekt_curl_load(); return chekt_curl_table.version(); }

static inline CURLcode chekt_curl_setopt_long(CURL *h, CURLoption o, long v) { (void)chekt_curl_load(); return chekt_curl_table.easy_setopt(h, o, v); }
static inline CURLcode chekt_curl_setopt_string(CURL *h, CURLoption o, const char *v) { (void)chekt_curl_load(); return chekt_curl_table.easy_setopt(h, o, v); }
static inline CURLcode chekt_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { (void)chekt_curl_load(); return chekt_curl_table.easy_setopt(h, o, v); }
static inline CURLcode chekt_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { (void)chekt_curl_load(); return chekt_curl_table.easy_setopt(h, o, v); }
static inline CURLcode chekt_curl_setopt_write(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) { (void)chekt_curl_load(); return chekt_curl_table.easy_setopt(h, CURLOPT_WRITEFUNCTION, f); }
static inline CURLcode chekt_curl_setopt_header(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) { (void)chekt_curl_load(); return chekt_curl_table.easy_setopt(h, CURLOPT_HEADERFUNCTION, f); }
static inline CURLcode chekt_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { (void)chekt_curl_load(); return chekt_curl_table.easy_getinfo(h, i, v); }
// CURLINFO_CAINFO/CURLINFO_CAPATH (7.84+) report libcurl's built-in CA locations as `const char *`.
static inline CURLcode chekt_curl_getinfo_string(CURL *h, CURLINFO i, const char **v) { (void)chekt_curl_load(); return chekt_curl_table.easy_getinfo(h, i, v); }
// A `struct curl_blob` option (CURLOPT_CAINFO_BLOB); libcurl copies the struct, and the bytes too unless flags is CURL_BLOB_NOCOPY.
static inline CURLcode chekt_curl_setopt_blob(CURL *h, CURLoption o, void *data, size_t len, unsigned int flags) {
    (void)chekt_curl_load();
    struct curl_blob blob = { data, len, flags };
    return chekt_curl_table.easy_setopt(h, o, &blob);
}

// libcurl's easy interface. curl_easy_setopt/getinfo are variadic and do
// not import into Swift: typed wrappers follow.
#include <curl/curl.h>

static inline CURLcode chekt_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode chekt_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode chekt_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode chekt_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode chekt_curl_setopt_write(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) { return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f); }
static inline CURLcode chekt_curl_setopt_header(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) { return curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, f); }
static inline CURLcode chekt_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }

// Added for BridgeUplink's HTTPClient.
// CURLINFO_CAINFO/CURLINFO_CAPATH (7.84+) report libcurl's built-in CA locations as `const char *`.
static inline CURLcode chekt_curl_getinfo_string(CURL *h, CURLINFO i, const char **v) { return curl_easy_getinfo(h, i, v); }
// A `struct curl_blob` option (CURLOPT_CAINFO_BLOB); libcurl copies the struct, and the bytes too unless flags is CURL_BLOB_NOCOPY.
static inline CURLcode chekt_curl_setopt_blob(CURL *h, CURLoption o, void *data, size_t len, unsigned int flags) {
    struct curl_blob blob = { data, len, flags };
    return curl_easy_setopt(h, o, &blob);
}

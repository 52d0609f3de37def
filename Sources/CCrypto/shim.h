// libcrypto (OpenSSL 3): HMAC-SHA256 for request and response signatures.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* Tools/arm64/glibc-2.38-compat.c: the 7 glibc 2.38 entry points that Debian 13's static Swift 6.0.3 runtime
   (swiftlang:arm64, built against glibc 2.41) references, for the arm64 agent that must run on Debian 12's glibc 2.36.

   Why: Tools/arm64/build links trixie's libswiftCore.a, libFoundationEssentials.a, ... statically. Their objects were
   compiled with glibc 2.41's headers, which map strtol & co. to the C23 variants (__isoc23_*, glibc 2.38) and declare
   strlcpy/strlcat (new in glibc 2.38). Linked against bookworm's libc.so.6 those references stay undefined (or would
   pull GLIBC_2.38 into the binary, which Debian 12 cannot load). Defining them here resolves them inside the binary.
   This object is linked only into the arm64 build (the Swift SDK's toolset passes it to the linker); the host build
   uses Swift 6.3.1's own runtime, built for Debian 12, and never sees it.

   Semantics: the C23 strto* functions also accept a "0b"/"0B" prefix when the base is 0 or 2; that is done here.
   __isoc23_sscanf differs from C99 sscanf only for %i with a 0b prefix and the new %b conversion; it is forwarded to
   vsscanf (nothing in the runtime's formats uses either). strlcpy/strlcat follow glibc 2.38 (= OpenBSD): they return
   the length they tried to create, and always terminate when the size is not 0. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* For base 0 or 2: when nptr holds [space][sign]0b followed by a binary digit, the offset of that digit, else 0. */
static size_t binary_prefix(const char *nptr, int base) {
    if (base != 0 && base != 2) return 0;
    const char *p = nptr;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '+' || *p == '-') p++;
    if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B') && (p[2] == '0' || p[2] == '1')) return (size_t)(p + 2 - nptr);
    return 0;
}

/* The sign has to be applied by hand when the digits are parsed after the prefix. */
static int negative(const char *nptr) {
    while (isspace((unsigned char)*nptr)) nptr++;
    return *nptr == '-';
}

#define C23_STRTO(name, type, plain, utype, uplain, min, max, is_signed)                                      \
    type name(const char *restrict nptr, char **restrict endptr, int base) {                                  \
        size_t digits = binary_prefix(nptr, base);                                                           \
        if (!digits) return plain(nptr, endptr, base);                                                       \
        int saved = errno;                                                                                   \
        errno = 0;                                                                                           \
        utype magnitude = uplain(nptr + digits, endptr, 2);                                                  \
        int overflow = errno == ERANGE;                                                                      \
        errno = saved;                                                                                       \
        int minus = negative(nptr);                                                                          \
        if (overflow) { errno = ERANGE; return is_signed && minus ? (type)(min) : (type)(max); }             \
        if (!minus) {                                                                                        \
            if (is_signed && magnitude > (utype)(max)) { errno = ERANGE; return (type)(max); }               \
            return (type)magnitude;                                                                          \
        }                                                                                                    \
        if (is_signed && magnitude > (utype)(max) + 1) { errno = ERANGE; return (type)(min); }               \
        return (type)(0 - magnitude);                                                                        \
    }

C23_STRTO(__isoc23_strtol, long, strtol, unsigned long, strtoul, LONG_MIN, LONG_MAX, 1)
C23_STRTO(__isoc23_strtoll, long long, strtoll, unsigned long long, strtoull, LLONG_MIN, LLONG_MAX, 1)
C23_STRTO(__isoc23_strtoul, unsigned long, strtoul, unsigned long, strtoul, 0, ULONG_MAX, 0)
C23_STRTO(__isoc23_strtoull, unsigned long long, strtoull, unsigned long long, strtoull, 0, ULLONG_MAX, 0)

int __isoc23_sscanf(const char *restrict s, const char *restrict format, ...) {
    va_list args;
    va_start(args, format);
    int n = vsscanf(s, format, args);
    va_end(args);
    return n;
}

size_t strlcpy(char *restrict dst, const char *restrict src, size_t size) {
    size_t length = strlen(src);
    if (size) {
        size_t n = length < size - 1 ? length : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return length;
}

size_t strlcat(char *restrict dst, const char *restrict src, size_t size) {
    size_t used = strnlen(dst, size);
    if (used == size) return size + strlen(src);
    return used + strlcpy(dst + used, src, size - used);
}

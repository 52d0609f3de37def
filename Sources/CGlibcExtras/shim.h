// glibc and Linux calls Swift's Glibc module does not import: malloc statistics and trimming (mallinfo2,
// malloc_trim, GNU extensions), and naming a thread (prctl is variadic, which Swift cannot call).
#include <malloc.h>
#include <sys/prctl.h>

/// Names the calling thread as `top -H`, `ps -L` and /proc/PID/task/TID/comm show it (the kernel keeps 15 bytes).
static inline void chekt_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}

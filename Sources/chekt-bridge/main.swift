import BridgeSystem
import Glibc

// Debian's libcurl links librtmp, which links GnuTLS, whose library constructor initialises GnuTLS (random
// pool, PKCS#11 modules through p11-kit) the moment libcurl is loaded: 1.1 MB resident for a library the
// agent never calls (HTTPS is OpenSSL's; only http and https are enabled on every transfer). GnuTLS's own
// switch turns that implicit initialisation off; an explicit gnutls_global_init() still works. Set here,
// before any thread exists (setenv is not thread-safe), and never over a value the operator chose.
setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0)

// Large blocks are mapped and unmapped, never kept at the top of a thread's arena (Heap.fixMmapThreshold: a
// crowd of control clients sending over-long lines otherwise left 20-28 MB behind). Before any thread exists.
Heap.fixMmapThreshold()

// Everything is in CLI; end with its code. The main thread waits for it: an async top-level main would park
// the main thread with dispatch_main(), which ends it with pthread_exit, a forced unwind that reads the binary's
// whole unwind tables (0.4 MB resident for nothing).
let arguments = Array(CommandLine.arguments.dropFirst())
let finished = OneShot<Int32>()
Task.detached { finished.fulfil(await CLI.main(arguments)) }
let code = finished.wait()
// _exit, not exit: `run` returns once everything is durable and the relays are safe, but the platform link's
// threads may still be finishing a transfer. exit() would run OpenSSL's atexit cleanup while such a thread's
// OpenSSL thread-locals are being destroyed, a use-after-free seen as SIGSEGV (exit status 139) after a clean
// SIGTERM. Nothing is left to flush: output and logs are written unbuffered, state is fsync'd.
// Under AddressSanitizer (Tools/sanitize/run address) LeakSanitizer checks for leaks at exit, which _exit skips: its
// check is made here instead. The symbol exists only in a sanitized build.
if let check = dlsym(nil, "__lsan_do_recoverable_leak_check") {
    _ = unsafeBitCast(check, to: (@convention(c) () -> Int32).self)()
}
_exit(code)

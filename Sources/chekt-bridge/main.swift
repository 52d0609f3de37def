import Glibc

// Everything is in CLI; end with its code.
let code = await CLI.main(Array(CommandLine.arguments.dropFirst()))
// _exit, not exit: `run` returns once everything is durable and the relays are safe, but the platform link's
// threads may still be finishing a transfer. exit() would run OpenSSL's atexit cleanup while such a thread's
// OpenSSL thread-locals are being destroyed, a use-after-free seen as SIGSEGV (exit status 139) after a clean
// SIGTERM. Nothing is left to flush: output and logs are written unbuffered, state is fsync'd.
_exit(code)

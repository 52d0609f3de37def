import BridgeSystem
import Glibc

/// SIGTERM, SIGINT and SIGHUP, delivered to the runtime loop as messages.
///
/// `install` sets a handler with `sigaction` (synchronous: once it returns,
/// no signal can be lost or take its default action, unlike an
/// asynchronously armed DispatchSource). The handler only writes the signal
/// number to a self-pipe, which is async-signal-safe whichever thread the
/// kernel picks; one thread reads the pipe and hands each signal on.
public enum Signals {
    nonisolated(unsafe) static var pipeWrite: Int32 = -1

    /// Installs the handlers and ignores SIGPIPE (a client that hangs up must not kill the agent).
    /// Call once, first thing in `run`.
    public static func install() -> Int32 {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 {
            // Without the pipe no handler can report: keep the default actions (SIGTERM still ends the agent).
            Log.error("cannot create the signal pipe: \(Posix.describe(errno)); SIGTERM will stop the agent without the safe-state step")
            return -1
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        pipeWrite = fds[1]
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                var byte = UInt8(truncatingIfNeeded: signal)
                _ = write(Signals.pipeWrite, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
        signal(SIGPIPE, SIG_IGN)
        // A blocked mask survives exec: an agent started from a thread that blocks SIGTERM (a Dispatch worker,
        // some supervisors) would never see it. Unblock them here, before any thread of ours starts.
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, sig) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        return fds[0]
    }

    /// Starts the thread that reads the self-pipe and hands each signal to `deliver`.
    public static func startWatcher(readEnd: Int32, _ deliver: @escaping @Sendable (Int32) -> Void) {
        Posix.spawnThread(name: "signals") {
            var byte: UInt8 = 0
            while true {
                let n = Posix.retrying { read(readEnd, &byte, 1) }
                if n == 1 { deliver(Int32(byte)) } else { return }
            }
        }
    }
}

/// systemd's notification protocol (`sd_notify`: `READY=1`, `WATCHDOG=1`, `STOPPING=1`) without libsystemd: one
/// datagram to `$NOTIFY_SOCKET`.
public enum SystemdNotify {
    /// How often to ping systemd's watchdog: half of `$WATCHDOG_USEC` (as sd_watchdog_enabled advises), when it is
    /// set for this process (`$WATCHDOG_PID` absent or ours); nil otherwise.
    public static func watchdogIntervalMs(usec: String? = getenv("WATCHDOG_USEC").map { String(cString: $0) },
                                          pid: String? = getenv("WATCHDOG_PID").map { String(cString: $0) }) -> Int64? {
        guard let usec, let value = Int64(usec), value > 0 else { return nil }
        if let pid, Int32(pid) != getpid() { return nil }
        return max(1, value / 2_000)
    }

    public static func send(_ state: String) {
        guard let path = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty else { return }
        // An abstract socket is written with a leading "@", sent as a leading NUL.
        let abstract = path.hasPrefix("@")
        var bytes = Array(path.utf8)
        if abstract { bytes[0] = 0 }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let message = Array(state.utf8)
        _ = withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, length) }
            }
        }
    }
}

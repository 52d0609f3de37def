import CGlibcExtras
import Glibc

/// Thin helpers over the C calls the agent makes, errno mapped once here.
public enum Posix {
    /// The words for an errno (`strerror`).
    public static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// Retries a call that fails with EINTR; returns the result, or -1 with errno set.
    @inline(__always)
    public static func retrying<T: BinaryInteger>(_ body: () -> T) -> T {
        while true {
            let r = body()
            if r == -1 && errno == EINTR { continue }
            return r
        }
    }

    /// Writes every byte, retrying short writes and EINTR. False on error (errno set).
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        return bytes.withUnsafeBytes { buf in
            while offset < buf.count {
                let n = retrying { Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset) }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }

    /// Wall-clock time in epoch milliseconds (`CLOCK_REALTIME`).
    public static func wallMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Monotonic time in nanoseconds (`CLOCK_MONOTONIC`).
    public static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Monotonic time in milliseconds (`CLOCK_MONOTONIC`), for waits that must not follow wall-clock steps.
    public static func monotonicMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Starts a detached POSIX thread running `body`: blocking work never runs on the Swift concurrency pool.
    ///
    /// Returns 0, or `pthread_create`'s error (`EAGAIN`: the process's or the unit's thread limit, or no address
    /// space left for a stack), in which case `body` never runs. `stackBytes` limits the thread's stack (rounded
    /// up to the page size; the default is the process's, usually 8 MiB of address space).
    public static func startThread(name: String, stackBytes: Int? = nil, _ body: @escaping @Sendable () -> Void) -> Int32 {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        // Named as `top -H`, `ps -L` and /proc/PID/task/*/comm show it (the kernel keeps 15 bytes).
        let named: @Sendable () -> Void = {
            chekt_set_thread_name(String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self))
            body()
        }
        let box = Unmanaged.passRetained(Box(named))
        var thread = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        if let stackBytes {
            let page = max(4096, sysconf(Int32(_SC_PAGESIZE)))
            pthread_attr_setstacksize(&attr, max(Int(PTHREAD_STACK_MIN), (stackBytes + page - 1) / page * page))
        }
        let rc = pthread_create(&thread, &attr, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box.toOpaque())
        if rc != 0 { box.release() }
        return rc
    }

    /// Starts one of the agent's own threads, started once at start-up (the runtime loop, the uplink's, the
    /// signal watcher). A process that cannot start them cannot do its job: the failure is logged and the process
    /// exits 70 (EX_SOFTWARE) for its supervisor to restart it. Never for a thread a client's request starts
    /// (`startThread`, and refuse the client).
    public static func spawnThread(name: String, _ body: @escaping @Sendable () -> Void) {
        let rc = startThread(name: name, body)
        if rc != 0 {
            Log.error("cannot start the \(name) thread: \(describe(rc)); stopping")
            exit(70)
        }
    }
}

/// A mutex and condition variable for the few places a thread must wait for another (pthread).
public final class Condition: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()

    public init() {
        pthread_mutex_init(&mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(&cond, &attr)
        pthread_condattr_destroy(&attr)
    }
    deinit { pthread_cond_destroy(&cond); pthread_mutex_destroy(&mutex) }

    public func lock() { pthread_mutex_lock(&mutex) }
    public func unlock() { pthread_mutex_unlock(&mutex) }
    public func broadcast() { pthread_cond_broadcast(&cond) }
    public func signal() { pthread_cond_signal(&cond) }
    /// Waits (lock held) until signalled or `timeoutMs` passed.
    public func wait(timeoutMs: Int) {
        wait(timeoutNs: UInt64(max(0, timeoutMs)) * 1_000_000)
    }

    /// Waits (lock held) until signalled or `timeoutNs` passed (`CLOCK_MONOTONIC`).
    public func wait(timeoutNs: UInt64) {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        // At most a year: a longer wait is a caller's mistake, and seconds past Int.max would trap.
        let total = UInt64(ts.tv_nsec) + min(timeoutNs, 365 * 86_400 * 1_000_000_000)
        ts.tv_sec += Int(total / 1_000_000_000)
        ts.tv_nsec = Int(total % 1_000_000_000)
        pthread_cond_timedwait(&cond, &mutex, &ts)
    }
    public func wait() { pthread_cond_wait(&cond, &mutex) }
}

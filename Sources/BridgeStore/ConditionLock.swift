import Glibc

/// A pthread mutex and condition variable guarding a value: what group commit waits on.
///
/// `Synchronization.Mutex` has no condition variable, and the journal's followers must
/// sleep until the leader's fdatasync is done, so this wraps `pthread_mutex_t` +
/// `pthread_cond_t` (heap-allocated: pthread objects must not move). The value is only
/// touched between `lock()` and `unlock()`, through `value`, which reads and writes
/// through a pointer so nothing is cached across a `wait()`.
final class ConditionLock<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private let storage: UnsafeMutablePointer<Value>

    init(_ value: Value) {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        storage = .allocate(capacity: 1)
        storage.initialize(to: value)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        storage.deinitialize(count: 1)
        storage.deallocate(); condition.deallocate(); mutex.deallocate()
    }

    /// The guarded value: only between `lock()` and `unlock()`.
    var value: UnsafeMutablePointer<Value> { storage }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Releases the lock, sleeps until `broadcast()`, and takes the lock again. Spurious
    /// wake-ups happen: always wait in a loop that re-checks the condition.
    func wait() { pthread_cond_wait(condition, mutex) }

    /// Wakes every waiter (they re-check their own condition).
    func broadcast() { pthread_cond_broadcast(condition) }

    /// Runs `body` with the lock held.
    func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        lock()
        defer { unlock() }
        return try body(&storage.pointee)
    }
}

/// A generation counter that threads wait on: bumped whenever events are recorded or inputs change.
///
/// Followers (`events --follow`, `inputs --watch`) run on their client's
/// thread and wait here, so a slow client never holds up the runtime loop.
public final class ChangeFeed: @unchecked Sendable {
    private let condition = Condition()
    private var generation: UInt64 = 0

    public init() {}

    public var current: UInt64 {
        condition.lock(); defer { condition.unlock() }
        return generation
    }

    public func bump() {
        condition.lock()
        generation &+= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until the generation differs from `seen` or `timeoutMs` passed; returns the generation.
    public func wait(after seen: UInt64, timeoutMs: Int) -> UInt64 {
        condition.lock(); defer { condition.unlock() }
        if generation == seen { condition.wait(timeoutMs: timeoutMs) }
        return generation
    }
}

/// A value handed from one thread to another, once.
public final class OneShot<T: Sendable>: @unchecked Sendable {
    public init() {}
    private let condition = Condition()
    private var value: T?

    public func fulfil(_ v: T) {
        condition.lock()
        if value == nil { value = v }
        condition.broadcast()
        condition.unlock()
    }

    public func wait() -> T {
        condition.lock(); defer { condition.unlock() }
        while value == nil { condition.wait() }
        return value!
    }

    /// The value, or nil when none came within `timeoutMs`.
    public func wait(timeoutMs: Int) -> T? {
        let deadline = Posix.monotonicMillis() + Int64(timeoutMs)
        condition.lock(); defer { condition.unlock() }
        while value == nil {
            let left = deadline - Posix.monotonicMillis()
            if left <= 0 { break }
            condition.wait(timeoutMs: Int(left))
        }
        return value
    }
}

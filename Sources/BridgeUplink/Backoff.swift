/// Exponential back-off with full jitter (protocol.md: start 0.5 s, ×2, cap 30 s), honouring `Retry-After`.
///
/// Pure: the random source is injected (seedable in tests), so every delay is reproducible.
public struct Backoff: Sendable {
    public var baseMs: Int = 500
    public var capMs: Int = 30_000
    public init(baseMs: Int = 500, capMs: Int = 30_000) { self.baseMs = baseMs; self.capMs = capMs }

    /// The delay before retry number `attempt` (1 for the first retry): uniform in 0...min(cap, base·2^(attempt-1)),
    /// and never less than the server's `Retry-After` (which may exceed the cap: the server knows best).
    public func delayMs(attempt: Int, retryAfterMs: Int?, using rng: inout some RandomNumberGenerator) -> Int {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(capMs, baseMs << exponent)
        let jittered = Int.random(in: 0...max(ceiling, 0), using: &rng)
        return max(jittered, retryAfterMs ?? 0)
    }

    /// `Retry-After` in milliseconds: delta-seconds, or an HTTP date against `now` (epoch ms). nil when absent or bad.
    public static func retryAfterMs(_ header: String?, now: Int64) -> Int? {
        guard let header = header?.trimmingCharacters(in: " \t") else { return nil }
        if let seconds = Int(header), seconds >= 0 { return min(seconds, 86_400) * 1000 }
        if let date = HTTPDate.parse(header) { return Int(max(0, min(date - now, 86_400_000))) }
        return nil
    }
}

/// SplitMix64: a small seedable generator for jitter (not for secrets).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}

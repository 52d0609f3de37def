import BridgeCore

/// offset = server Date − local clock, from every response; the estimate of platform time = local + offset.
///
/// What is kept, and why: a `Date` header has 1 s resolution (servers
/// truncate) and was written at some unknown moment between sending the
/// request and receiving the answer. One response therefore proves only that
/// the offset lies in the interval
///
///     [serverDate − receivedAt,  serverDate + 999 − sentAt]
///
/// The estimate is the intersection of these intervals over the responses
/// seen, and `offsetMs` is the value in it closest to 0: the smallest
/// correction of the local clock that every response allows. A bridge whose
/// clock is synchronised (NTP) is then not "corrected" by the Date header's
/// rounding (a midpoint would be off by up to ±500 ms at first, and put
/// `completed_at` before a command's `issued_at`); a bridge whose clock is
/// off is corrected by the offset less at most the interval's width.
/// Intersecting tightens the bound with every quick response (towards the
/// round trip instead of 1 s), while a 25 s long-poll, whose interval is 26 s
/// wide, cannot drag the estimate around as "keep the latest" would.
/// When a new interval does not overlap the kept one, one of the clocks
/// stepped (NTP on the platform, or a bridge without an RTC setting its
/// clock): the kept interval is discarded for the new one. Slow drift makes
/// the intervals slide until they no longer overlap, so the estimate
/// follows drift with an error below one interval's width (about 1 s plus
/// the round trip): plenty for a 300 s signature window and for command
/// expiry.
///
/// A value type with no clock of its own: all times come in as `Millis`.
public struct ClockOffset: Sendable, Equatable {
    /// Lowest and highest offset consistent with every response since the last step, or nil before the first.
    public private(set) var bounds: ClosedRange<Int64>?
    /// Responses that were used (one with `receivedAt < sentAt` is ignored).
    public private(set) var samples: Int = 0
    /// Times the kept interval was discarded because a response contradicted it (a clock step).
    public private(set) var resets: Int = 0

    /// No estimate yet: `offsetMs` is 0 until the first response.
    public init() {}

    /// Takes one response's `Date` (from `HTTPDate.parse`) and the local times the request was sent and the answer read.
    public mutating func observe(serverDate: Millis, sentAt: Millis, receivedAt: Millis) {
        guard receivedAt >= sentAt, serverDate <= Int64.max - 999 else { return }
        let (low, lowOverflow) = serverDate.subtractingReportingOverflow(receivedAt)
        let (high, highOverflow) = (serverDate + 999).subtractingReportingOverflow(sentAt)
        guard !lowOverflow, !highOverflow else { return }
        samples += 1
        let fresh = low...high
        if let kept = bounds, kept.overlaps(fresh) {
            bounds = max(kept.lowerBound, low)...min(kept.upperBound, high)
        } else {
            if bounds != nil { resets += 1 }
            bounds = fresh
        }
    }

    /// Platform time minus local time, in ms: the value of `bounds` closest to 0 (0 before the first response).
    public var offsetMs: Int64 {
        guard let bounds else { return 0 }
        return min(max(0, bounds.lowerBound), bounds.upperBound)
    }

    /// How far `offsetMs` may be from the true offset (to the farther end of `bounds`), or nil before the first response.
    public var uncertaintyMs: Int64? {
        guard let bounds else { return nil }
        return max(offsetMs - bounds.lowerBound, bounds.upperBound - offsetMs)
    }

    /// The best estimate of platform time at local time `local`.
    public func platformNow(local: Millis) -> Millis {
        local &+ offsetMs
    }
}

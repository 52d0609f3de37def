// Time values from outside: RFC 3339 timestamps (command issued_at/expires_at, events read back from the journal),
// HTTP `Date` headers (clock offset) and `Retry-After` headers (back-off). The whole input is the text; its first
// 8 bytes are also a time in milliseconds to write.
import BridgeCore
import BridgeUplink
import FuzzSupport

/// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the range a four-digit year can write.
let fourDigitYears: ClosedRange<Millis> = -62_167_219_200_000...253_402_300_799_999

/// `now` values the agent can have: a bridge without an RTC starts in 1970; 2026; the far end of four-digit years.
let nows: [Int64] = [0, 1_795_975_200_000, 253_402_300_799_999]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    let text = Fuzz.text(bytes)

    // Writing any time must not trap either: persisted deadlines and snapshot times come back from disk.
    let anyMs = Fuzz.int64(bytes, at: 0)
    _ = Timestamp.rfc3339(anyMs)
    _ = HTTPDate.format(anyMs)

    if let ms = Timestamp.parse(text) {
        let written = Timestamp.rfc3339(ms)
        if fourDigitYears.contains(ms) {
            let again = Timestamp.parse(written)
            Fuzz.require(again == ms, "Timestamp.parse(\(Fuzz.quote(text))) = \(ms), rfc3339 wrote \(written), "
                + "which parses to \(again.map(String.init) ?? "nil")")
        }
    }

    if let ms = HTTPDate.parse(text) {
        Fuzz.require(ms % 1000 == 0, "HTTPDate.parse(\(Fuzz.quote(text))) = \(ms) has a fraction of a second")
        let written = HTTPDate.format(ms)
        if fourDigitYears.contains(ms) {
            let again = HTTPDate.parse(written)
            Fuzz.require(again == ms, "HTTPDate.parse(\(Fuzz.quote(text))) = \(ms), format wrote \(written), "
                + "which parses to \(again.map(String.init) ?? "nil")")
        }
    }

    for now in nows {
        if let delay = Backoff.retryAfterMs(text, now: now) {
            Fuzz.require((0...86_400_000).contains(delay),
                         "Backoff.retryAfterMs(\(Fuzz.quote(text)), now: \(now)) = \(delay), outside 0...86400000")
        }
    }
    return 0
}

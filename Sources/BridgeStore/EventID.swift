import BridgeCore

/// Event ids: `evt_` followed by a ULID (26 Crockford base32 characters).
///
/// The ULID's first 48 bits are the event's `occurredAt` in epoch milliseconds, so ids
/// sort by time as text; the other 80 bits come from `SystemRandomNumberGenerator`
/// (getrandom(2)), so two bridges, or two events of one millisecond, never collide in
/// practice. Ids are the platform's idempotency key (protocol.md), made once when an
/// event is recorded and stored with it.
public enum EventID {
    /// Crockford's base32 alphabet: no I, L, O, U.
    static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    public static let prefix = "evt_"

    /// A new id for an event that occurred at `time` (clamped to the 48-bit range).
    public static func make(time: Millis) -> String {
        var rng = SystemRandomNumberGenerator()
        return make(time: time, using: &rng)
    }

    /// A new id drawing its random part from `generator` (tests pass a seeded one).
    public static func make(time: Millis, using generator: inout some RandomNumberGenerator) -> String {
        let t = UInt64(Swift.max(0, Swift.min(time, Millis(1) << 48 - 1)))
        let high = UInt16(truncatingIfNeeded: generator.next())   // random bits 79...64
        let low = generator.next()                                // random bits 63...0
        var out = Array(prefix.utf8)
        out.reserveCapacity(prefix.utf8.count + 26)
        // 10 characters of time: 50 bits, the top 2 always zero.
        for i in 0..<10 { out.append(alphabet[Int((t >> UInt64(45 - 5 * i)) & 31)]) }
        // 16 characters of randomness: 80 bits, as (high:16, low:64).
        for i in 0..<16 {
            let shift = 75 - 5 * i   // bit position of this character's lowest bit
            let v: UInt64
            if shift >= 64 {
                v = UInt64(high) >> UInt64(shift - 64)
            } else if shift > 59 {
                // Straddles the two words.
                v = (low >> UInt64(shift)) | (UInt64(high) << UInt64(64 - shift))
            } else {
                v = low >> UInt64(shift)
            }
            out.append(alphabet[Int(v & 31)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when `id` has the shape `evt_` + 26 Crockford base32 characters with a first character <= 7.
    public static func isWellFormed(_ id: String) -> Bool {
        let b = Array(id.utf8)
        guard b.count == prefix.utf8.count + 26, id.hasPrefix(prefix) else { return false }
        let body = b[prefix.utf8.count...]
        guard let first = body.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "7") else { return false }
        return body.allSatisfy { alphabet.contains($0) }
    }

    /// The millisecond time encoded in a well-formed id; nil otherwise.
    public static func time(of id: String) -> Millis? {
        guard isWellFormed(id) else { return nil }
        var t: Int64 = 0
        for c in Array(id.utf8)[prefix.utf8.count..<(prefix.utf8.count + 10)] {
            t = t << 5 | Int64(alphabet.firstIndex(of: c)!)
        }
        return t
    }
}

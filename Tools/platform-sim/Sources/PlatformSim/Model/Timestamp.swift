import Foundation

/// Milliseconds since the Unix epoch: the one time type of the platform (as in the agent).
public typealias Millis = Int64

/// Formats and parses the two time formats of the protocol: RFC 3339 for bodies, IMF-fixdate for `Date`.
///
/// Written out by hand rather than with `DateFormatter`/`ISO8601DateFormatter` so that parsing is exactly as strict
/// as protocol.md asks (one formatter cannot accept both "…:00Z" and "…:00.123Z"), and formatting never depends on
/// the process locale.
public enum Timestamp {
    /// The current wall-clock time in milliseconds.
    public static func systemNow() -> Millis {
        Millis((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-29T18:00:00.123Z`.
    public static func rfc3339(_ ms: Millis) -> String {
        let c = CivilTime(ms)
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):"
            + "\(pad(c.second, 2)).\(pad(c.millisecond, 3))Z"
    }

    /// RFC 7231 IMF-fixdate, e.g. `Sun, 29 Nov 2026 18:00:00 GMT` (the `Date` header).
    public static func httpDate(_ ms: Millis) -> String {
        let c = CivilTime(ms)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let days = Int(floorDiv(ms, 86_400_000))
        let weekday = weekdays[((days % 7) + 7) % 7]
        return "\(weekday), \(pad(c.day, 2)) \(months[c.month - 1]) \(pad(c.year, 4)) "
            + "\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)) GMT"
    }

    /// Parses an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`); nil when it is not one.
    ///
    /// `t`/`z` in lower case are accepted (RFC 3339 §5.6 allows them); a space instead of `T` is not. Fractions
    /// beyond milliseconds are truncated. Leap seconds (`:60`) are refused.
    public static func parseRFC3339(_ text: String) -> Millis? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in i..<(i + n) {
                guard b[k] >= 0x30, b[k] <= 0x39 else { return nil }
                v = v * 10 + Int(b[k] - 0x30)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8...) -> Bool {
            guard i < b.count, c.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2),
            expect(0x54, 0x74), let hour = digits(2), expect(0x3A), let minute = digits(2), expect(0x3A),
            let second = digits(2)
        else { return nil }
        var millis = 0
        if i < b.count, b[i] == 0x2E {
            i += 1
            var count = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if count < 3 { millis = millis * 10 + Int(b[i] - 0x30) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 3) { millis *= 10 }
        }
        var offsetMinutes = 0
        if expect(0x5A, 0x7A) {
            offsetMinutes = 0
        } else if i < b.count, b[i] == 0x2B || b[i] == 0x2D {
            let sign = b[i] == 0x2D ? -1 : 1
            i += 1
            guard let oh = digits(2), expect(0x3A), let om = digits(2), oh < 24, om < 60 else { return nil }
            offsetMinutes = sign * (oh * 60 + om)
        } else {
            return nil
        }
        guard i == b.count, (1...12).contains(month), day >= 1, day <= daysInMonth(year, month), hour < 24,
            minute < 60, second < 60
        else { return nil }
        let days = Int64(daysFromCivil(year, month, day))
        let secs = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        return secs * 1000 + Int64(millis)
    }

    // MARK: - Civil calendar (Howard Hinnant's algorithms, proleptic Gregorian)

    struct CivilTime {
        var year, month, day, hour, minute, second, millisecond: Int

        init(_ ms: Millis) {
            let days = floorDiv(ms, 86_400_000)
            let rem = Int(ms - days * 86_400_000)
            (year, month, day) = Timestamp.civilFromDays(Int(days))
            hour = rem / 3_600_000
            minute = rem / 60_000 % 60
            second = rem / 1000 % 60
            millisecond = rem % 1000
        }
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func daysInMonth(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

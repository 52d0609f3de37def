import BridgeCore

/// HTTP `Date` values (RFC 9110 §5.6.7, formerly RFC 7231 §7.1.1.1) to and from epoch milliseconds.
///
/// Parsing accepts the three forms a recipient must accept; names of days
/// and months in any case, surrounding spaces ignored, `GMT` (or `UTC`)
/// required where the grammar has it. The day name is checked to be a day
/// name but not checked against the date (RFC 9110 does not ask for it).
public enum HTTPDate {
    /// Parses IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850
    /// (`Sunday, 06-Nov-94 08:49:37 GMT`) or asctime (`Sun Nov  6 08:49:37 1994`); nil otherwise.
    ///
    /// RFC 850's two-digit year is read as 1970–2069 (00–69 → 20xx), the
    /// POSIX `%y` rule; RFC 9110 would pivot on the current year, which would
    /// make parsing depend on the clock. The form has been obsolete since 1996.
    public static func parse(_ text: String) -> Millis? {
        var c = Cursor(text)
        c.skipSpaces()
        guard let first = c.word() else { return nil }
        if c.take(",") {
            if shortDays.contains(first) {
                // IMF-fixdate: DD SP Mon SP YYYY SP hh:mm:ss SP GMT
                guard c.take(" "), let day = c.digits(2), c.take(" "), let month = c.month(), c.take(" "),
                      let year = c.digits(4), c.take(" "), let time = c.time(), c.take(" "), c.zone() else { return nil }
                return c.atEnd ? epochMillis(year: year, month: month, day: day, time: time) : nil
            }
            if longDays.contains(first) {
                // RFC 850: DD-Mon-YY SP hh:mm:ss SP GMT
                guard c.take(" "), let day = c.digits(2), c.take("-"), let month = c.month(), c.take("-"),
                      let yy = c.digits(2), c.take(" "), let time = c.time(), c.take(" "), c.zone() else { return nil }
                let year = yy < 70 ? 2000 + yy : 1900 + yy
                return c.atEnd ? epochMillis(year: year, month: month, day: day, time: time) : nil
            }
            return nil
        }
        // asctime: Mon SP ( DD / SP D ) SP hh:mm:ss SP YYYY
        guard shortDays.contains(first), c.take(" "), let month = c.month(), c.take(" ") else { return nil }
        let day: Int
        if c.take(" ") {
            guard let d = c.digits(1) else { return nil }
            day = d
        } else {
            guard let d = c.digits(2) else { return nil }
            day = d
        }
        guard c.take(" "), let time = c.time(), c.take(" "), let year = c.digits(4) else { return nil }
        return c.atEnd ? epochMillis(year: year, month: month, day: day, time: time) : nil
    }

    /// IMF-fixdate for `ms` (the fraction of a second is dropped, as servers do).
    public static func format(_ ms: Millis) -> String {
        // Years 0000-9999, as the format has them: a time outside is shown at the edge, never trapped on.
        let ms = min(max(ms, -62_167_219_200_000), 253_402_300_799_999)
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (y, m, d) = civil(fromDays: days)
        let weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday (index 4 from Sunday)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(shortDays[weekday].capitalizedASCII), \(pad(d, 2)) \(months[m - 1].capitalizedASCII) \(pad(Int(y), 4)) "
            + "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)) GMT"
    }

    static let shortDays = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    static let longDays = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    private static func epochMillis(year: Int, month: Int, day: Int, time: (h: Int, m: Int, s: Int)) -> Millis? {
        guard (1...12).contains(month), day >= 1, day <= Timestamp.daysIn(month: month, year: year),
              time.h < 24, time.m < 60, time.s <= 60 else { return nil }
        let days = Timestamp.epochDays(year: year, month: month, day: day)
        return (days * 86_400 + Int64(time.h * 3600 + time.m * 60 + time.s)) * 1000
    }

    private static func civil(fromDays z0: Int64) -> (Int64, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// A position in the date's bytes.
    private struct Cursor {
        let b: [UInt8]
        var i = 0
        var end: Int

        init(_ text: String) {
            b = Array(text.utf8)
            end = b.count
            while end > 0, b[end - 1] == 32 || b[end - 1] == 9 { end -= 1 }
        }

        var atEnd: Bool { i == end }

        mutating func skipSpaces() { while i < end, b[i] == 32 || b[i] == 9 { i += 1 } }

        mutating func take(_ s: Unicode.Scalar) -> Bool {
            guard i < end, b[i] == UInt8(ascii: s) else { return false }
            i += 1
            return true
        }

        /// ASCII letters, lower-cased.
        mutating func word() -> String? {
            let start = i
            while i < end, (b[i] | 0x20) >= 97, (b[i] | 0x20) <= 122 { i += 1 }
            guard i > start else { return nil }
            return String(decoding: b[start..<i].map { $0 | 0x20 }, as: UTF8.self)
        }

        mutating func digits(_ count: Int) -> Int? {
            guard i + count <= end else { return nil }
            var v = 0
            for k in i..<(i + count) {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                v = v * 10 + Int(b[k] - 48)
            }
            i += count
            return v
        }

        /// A three-letter month name, 1-based.
        mutating func month() -> Int? {
            guard i + 3 <= end else { return nil }
            let name = String(decoding: b[i..<(i + 3)].map { $0 | 0x20 }, as: UTF8.self)
            guard let index = HTTPDate.months.firstIndex(of: name) else { return nil }
            i += 3
            return index + 1
        }

        mutating func time() -> (h: Int, m: Int, s: Int)? {
            guard let h = digits(2), take(":"), let m = digits(2), take(":"), let s = digits(2) else { return nil }
            return (h, m, s)
        }

        mutating func zone() -> Bool {
            guard let z = word() else { return false }
            return z == "gmt" || z == "utc"
        }
    }
}

extension String {
    /// First letter upper-cased (ASCII names only).
    fileprivate var capitalizedASCII: String {
        guard let first = first else { return self }
        return first.uppercased() + dropFirst()
    }
}

/// The `X-Chekt-Signature` scheme (protocol.md, Signatures): HMAC-SHA256 over `"<t>." + body`.
///
/// The agent signs every body it sends with `header(secret:body:unixSeconds:)`
/// and checks every command-carrying response with `verify(...)`. Both work on
/// the raw bytes sent or received, never on a re-encoding.
public enum Signature {
    /// The header's name.
    public static let headerName = "X-Chekt-Signature"

    /// "t=<unix s>,v1=<lower hex HMAC-SHA256(secret, "<t>." + body)>"
    public static func header(secret: [UInt8], body: [UInt8], unixSeconds: Int64) -> String {
        "t=\(unixSeconds),v1=\(HMACSHA256.hex(key: secret, message: signedBytes(t: String(unixSeconds), body: body)))"
    }

    /// Parses "t=..,v1=..,v1=.." (any order, spaces tolerated); `.valid` when one v1 matches and t is in the window.
    ///
    /// - Several `v1` entries are allowed (secret rotation); every one is
    ///   compared with the MAC of every secret in `secrets`, in constant time
    ///   (`CRYPTO_memcmp`). A `v1` that is not 64 hex digits never matches.
    /// - Unknown keys (a future `v2=`) are ignored.
    /// - `.malformed`: no `t`, two `t`, a `t` that is not 1–12 decimal digits,
    ///   an entry without `=`, or no well-formed `v1` at all.
    /// - The window is checked only once the MAC matches, so a forged `t` is
    ///   reported as `.mismatch`, never as a clock problem:
    ///   `.outsideWindow(skewS)` with `skewS = t − platformNowSeconds` when
    ///   `|skewS| > toleranceSeconds` (the edges ±300 are inside).
    public static func verify(header: String?, body: [UInt8], secrets: [[UInt8]], platformNowSeconds: Int64,
                              toleranceSeconds: Int64 = 300) -> SignatureCheck {
        guard let header, header.contains(where: { !$0.isWhitespace }) else { return .missing }
        var timestamp: Substring?
        var candidates: [[UInt8]] = []
        var sawV1 = false
        for part in header.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = part.trimmingWhitespace()
            if entry.isEmpty { continue }  // tolerate "t=1,,v1=.." and a trailing comma
            guard let eq = entry.firstIndex(of: "=") else { return .malformed }
            let key = entry[..<eq].trimmingWhitespace()
            let value = entry[entry.index(after: eq)...].trimmingWhitespace()
            switch key {
            case "t":
                guard timestamp == nil else { return .malformed }
                timestamp = value
            case "v1":
                sawV1 = true
                if let mac = decodeHex(value), mac.count == 32 { candidates.append(mac) }
            default:
                continue
            }
        }
        guard let timestamp, let t = parseSeconds(timestamp), sawV1, !candidates.isEmpty else { return .malformed }

        let message = signedBytes(t: String(timestamp), body: body)
        var matched = false
        for secret in secrets {
            let expected = HMACSHA256.mac(key: secret, message: message)
            for candidate in candidates where HMACSHA256.constantTimeEqual(expected, candidate) { matched = true }
        }
        guard matched else { return .mismatch }
        let (skew, overflow) = t.subtractingReportingOverflow(platformNowSeconds)
        if overflow || skew.magnitude > toleranceSeconds.magnitude { return .outsideWindow(skewS: overflow ? .max : skew) }
        return .valid
    }

    /// `"<t>." + body`: what the MAC covers. `t` is used exactly as written in the header.
    private static func signedBytes(t: String, body: [UInt8]) -> [UInt8] {
        var message = Array(t.utf8)
        message.append(UInt8(ascii: "."))
        message.append(contentsOf: body)
        return message
    }

    /// 1–12 decimal digits (seconds until the year 33658): no sign, no spaces, no overflow.
    private static func parseSeconds(_ text: Substring) -> Int64? {
        guard (1...12).contains(text.utf8.count), text.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int64(text)
    }

    /// Hex (either case) to bytes; nil when the length is odd or a character is not hex.
    private static func decodeHex(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

/// The outcome of `Signature.verify`: only `.valid` lets a response be used.
public enum SignatureCheck: Sendable, Equatable, CustomStringConvertible {
    case valid
    /// No `X-Chekt-Signature` header, or an empty one.
    case missing
    /// The header is not `t=<seconds>,v1=<hex>[,v1=<hex>...]`.
    case malformed
    /// Well-formed, but no `v1` is the MAC of this body under any current secret.
    case mismatch
    /// Authentic, but `t` is `skewS` seconds from the estimate of platform time (positive: ahead).
    case outsideWindow(skewS: Int64)

    /// True only for `.valid`.
    public var isValid: Bool { self == .valid }

    public var description: String {
        switch self {
        case .valid: return "valid signature"
        case .missing: return "missing X-Chekt-Signature header"
        case .malformed: return "malformed X-Chekt-Signature header (expected t=<unix seconds>,v1=<64 hex digits>)"
        case .mismatch: return "X-Chekt-Signature does not match the body under the current signing_secret"
        case .outsideWindow(let skew):
            return "X-Chekt-Signature timestamp is \(skew) s away from the estimated platform time, outside the allowed window"
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    fileprivate func trimmingWhitespace() -> Substring {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return Substring(s)
    }
}

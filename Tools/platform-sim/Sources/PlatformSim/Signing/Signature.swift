import Crypto
import Foundation

/// The outcome of checking an `X-Chekt-Signature` header.
public enum SignatureCheck: Sendable, Equatable {
    /// One `v1` matched and `t` is inside the window.
    case valid
    /// No header at all.
    case missing
    /// The header is not `t=<unix s>,v1=<hex>[,v1=<hex>…]`.
    case malformed(String)
    /// No `v1` matches the body under the secret.
    case mismatch
    /// A `v1` matched but `t` is `skewSeconds` away from platform time, beyond the window.
    case outsideWindow(skewSeconds: Int64)

    /// A sentence for the `message` of a 401 answer (never contains the secret).
    public var explanation: String {
        switch self {
        case .valid: return "signature valid"
        case .missing: return "X-Chekt-Signature header missing"
        case .malformed(let why): return "X-Chekt-Signature malformed: \(why)"
        case .mismatch: return "no v1 in X-Chekt-Signature matches HMAC-SHA256(signing_secret, \"<t>.\" + body)"
        case .outsideWindow(let skew):
            return "X-Chekt-Signature t is \(skew) s from platform time (allowed ±\(Signature.toleranceSeconds) s)"
        }
    }
}

/// The CHeKT webhook signature scheme of protocol.md, in both directions.
///
/// `X-Chekt-Signature: t=<unix seconds>,v1=<lower-case hex HMAC-SHA256(secret, "<t>." + raw body bytes)>`.
/// The key is the UTF-8 bytes of `signing_secret` as written in the credentials file. Verification uses
/// swift-crypto's `isValidAuthenticationCode`, which compares in constant time.
public enum Signature {
    /// The largest allowed distance between `t` and platform time.
    public static let toleranceSeconds: Int64 = 300

    /// The lower-case hex HMAC-SHA256 of `"<t>." + body`.
    public static func hex(secret: String, body: some DataProtocol, unixSeconds: Int64) -> String {
        let key = SymmetricKey(data: Data(secret.utf8))
        var mac = HMAC<SHA256>(key: key)
        mac.update(data: Data("\(unixSeconds).".utf8))
        mac.update(data: body)
        return mac.finalize().map { byte in
            let h = String(byte, radix: 16)
            return byte < 16 ? "0" + h : h
        }.joined()
    }

    /// The full header value, `t=…,v1=…`.
    public static func header(secret: String, body: some DataProtocol, unixSeconds: Int64) -> String {
        "t=\(unixSeconds),v1=\(hex(secret: secret, body: body, unixSeconds: unixSeconds))"
    }

    /// Checks a request's header against the body: a matching `v1` and `|t - now| <= tolerance`.
    ///
    /// Several `v1=` entries are allowed (secret rotation); one match is enough. Entries are separated by commas,
    /// spaces around them are tolerated, unknown schemes (`v0=`) are ignored. Hex must be lower case, as the spec
    /// says: the reference platform is strict so that an agent's deviation shows up here first.
    public static func verify(
        header: String?, body: some DataProtocol, secret: String, platformNowSeconds: Int64,
        toleranceSeconds: Int64 = Signature.toleranceSeconds
    ) -> SignatureCheck {
        guard let header else { return .missing }
        var timestamp: Int64?
        var candidates: [Data] = []
        for part in header.split(separator: ",") {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard let eq = item.firstIndex(of: "=") else { return .malformed("entry \"\(item)\" has no '='") }
            let name = item[..<eq]
            let value = String(item[item.index(after: eq)...])
            switch name {
            case "t":
                guard timestamp == nil else { return .malformed("t given twice") }
                guard let t = Int64(value) else { return .malformed("t is not an integer") }
                timestamp = t
            case "v1":
                guard let mac = decodeHex(value), mac.count == SHA256.byteCount else {
                    return .malformed("v1 is not 64 lower-case hex digits")
                }
                candidates.append(mac)
            default:
                continue
            }
        }
        guard let t = timestamp else { return .malformed("no t=") }
        guard !candidates.isEmpty else { return .malformed("no v1=") }
        let key = SymmetricKey(data: Data(secret.utf8))
        var signed = Data("\(t).".utf8)
        signed.append(contentsOf: body)
        let matched = candidates.contains {
            HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: signed, using: key)
        }
        guard matched else { return .mismatch }
        let skew = t - platformNowSeconds
        guard abs(skew) <= toleranceSeconds else { return .outsideWindow(skewSeconds: skew) }
        return .valid
    }

    static func decodeHex(_ text: String) -> Data? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out = Data(capacity: chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}

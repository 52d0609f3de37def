import Glibc

/// The rules for `upstream.url` (protocol.md, Transport): https anywhere, plain http only to this machine.
public enum UpstreamURL {
    /// https://, or http:// only to loopback hosts (localhost, 127.0.0.0/8, [::1]); else a clear error.
    ///
    /// Returns the URL normalised for appending paths: scheme in lower case,
    /// trailing `/` removed (`https://api.example/v1/` → `https://api.example/v1`).
    /// Also refused, because each would break or leak something later:
    /// user info (`https://user:pw@host`: credentials belong in the
    /// credentials file, and URLs are logged), a query or fragment (paths are
    /// appended to this URL), spaces or control characters, a bad port.
    /// Loopback means the name `localhost`, a dotted-quad IPv4 address in
    /// 127.0.0.0/8, or `[::1]` in any IPv6 spelling (also `[::ffff:127.x.y.z]`).
    /// Names that merely resolve to 127.0.0.1 are not loopback: DNS can change.
    public static func validate(_ url: String) -> Result<String, UpstreamURLError> {
        func fail(_ code: UpstreamURLError.Code, _ why: String) -> Result<String, UpstreamURLError> {
            .failure(UpstreamURLError(code: code, url: redacted(url), message: why))
        }
        guard !url.isEmpty else { return fail(.malformed, "is empty; expected e.g. https://bridge-api.example/v1") }
        guard !url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            return fail(.malformed, "contains a space or control character")
        }
        // The scheme ends at the first colon, which must start "://".
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else {
            return fail(.malformed, "has no scheme; expected e.g. https://bridge-api.example/v1")
        }
        let scheme = url[..<colon].lowercased()
        guard scheme == "https" || scheme == "http" else {
            return fail(.unsupportedScheme, "uses \(scheme)://; only https:// is supported (http:// for a loopback host)")
        }
        let (authority, pathAndRest) = splitAuthority(url[url.index(colon, offsetBy: 3)...])
        var path = pathAndRest
        guard !authority.contains("@" as Character) else {
            return fail(.userInfo, "contains a user name or password; put the key in the credentials file instead")
        }
        guard !path.contains(where: { $0 == "?" || $0 == "#" }) else {
            return fail(.queryOrFragment, "has a query or fragment; it must be a base URL that paths are appended to")
        }

        let host: Substring
        let port: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return fail(.malformed, "has an unterminated [IPv6] host") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let rest = authority[authority.index(after: close)...]
            if rest.isEmpty {
                port = nil
            } else if rest.hasPrefix(":") {
                port = rest.dropFirst()
            } else {
                return fail(.malformed, "has characters after the [IPv6] host")
            }
            guard ipv6(String(host)) != nil else { return fail(.malformed, "has an invalid IPv6 address [\(host)]") }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        } else {
            host = authority
            port = nil
        }
        guard !host.isEmpty else { return fail(.malformed, "has no host") }
        if let port {
            guard (1...5).contains(port.count), port.allSatisfy(\.isASCIIDigit), let n = Int(port), (1...65_535).contains(n) else {
                return fail(.malformed, "has an invalid port \"\(port)\" (expected 1-65535)")
            }
        }
        if scheme == "http" && !isLoopback(String(host)) {
            return fail(.insecureHTTP,
                        "uses plain http:// to \(host), which is not this machine; use https:// "
                            + "(http:// is accepted only for localhost, 127.0.0.0/8 and [::1])")
        }
        while path.hasSuffix("/") { path = path.dropLast() }
        return .success("\(scheme)://\(authority)\(path)")
    }

    /// True for `localhost`, 127.0.0.0/8 dotted quads and the IPv6 loopback (plain or IPv4-mapped 127/8).
    static func isLoopback(_ host: String) -> Bool {
        let lower = host.lowercased()
        if lower == "localhost" || lower == "localhost." { return true }
        if let v4 = ipv4(lower) { return v4.0 == 127 }
        let unbracketed = lower.hasPrefix("[") && lower.hasSuffix("]") ? String(lower.dropFirst().dropLast()) : lower
        if let v6 = ipv6(unbracketed) {
            if v6 == [UInt8](repeating: 0, count: 15) + [1] { return true }
            let mapped = [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF]
            return Array(v6.prefix(12)) == mapped && v6[12] == 127
        }
        return false
    }

    /// The four bytes of a strict dotted-quad (`inet_pton`: no `127.1`, no octal).
    private static func ipv4(_ text: String) -> (UInt8, UInt8, UInt8, UInt8)? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: address) { ($0[0], $0[1], $0[2], $0[3]) }
    }

    /// The sixteen bytes of an IPv6 address (without brackets).
    private static func ipv6(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: address) { Array($0) }
    }

    /// The URL with any user info replaced, so an error message never repeats a password.
    private static func redacted(_ url: String) -> String {
        guard let separator = url.firstRange(of: "://") else { return url }
        let (authority, rest) = splitAuthority(url[separator.upperBound...])
        guard let at = authority.lastIndex(of: "@") else { return url }
        return String(url[..<separator.upperBound]) + "****" + String(authority[at...]) + String(rest)
    }

    /// `host[:port]` (and any user info) up to the first `/`, `?` or `#`; then the rest.
    private static func splitAuthority(_ text: Substring) -> (Substring, Substring) {
        let end = text.firstIndex { (c: Character) -> Bool in c == "/" || c == "?" || c == "#" } ?? text.endIndex
        return (text[..<end], text[end...])
    }
}

/// Why an `upstream.url` was refused; `description` is the sentence for the technician.
public struct UpstreamURLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which rule was broken.
    public enum Code: String, Sendable, Hashable {
        /// Not a URL of the form scheme://host[:port][/path].
        case malformed
        /// Neither https nor http.
        case unsupportedScheme = "unsupported_scheme"
        /// http:// to a host that is not loopback.
        case insecureHTTP = "insecure_http"
        /// user:password@ in the URL.
        case userInfo = "user_info"
        /// ?query or #fragment in a base URL.
        case queryOrFragment = "query_or_fragment"
    }

    public var code: Code
    /// The URL as configured, with any user info replaced by `****`.
    public var url: String
    public var message: String

    public var description: String { "upstream.url \"\(url)\" \(message)" }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

import CCrypto

/// HMAC-SHA256 through libcrypto (`HMAC` with `EVP_sha256`, loaded on first use). Never hand-rolled.
public enum HMACSHA256 {
    /// nil when libcrypto is usable, else why not (the uplink refuses to start then).
    public static var unavailableReason: String? {
        chekt_crypto_load().map { String(cString: $0) }
    }

    /// The 32-byte MAC; empty only when libcrypto could not be loaded (see `unavailableReason`), which matches nothing.
    public static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let rc = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                chekt_hmac_sha256(k.baseAddress, Int32(k.count), m.baseAddress, m.count, &out)
            }
        }
        return rc == 0 ? out : []
    }

    /// Lower-case hex of the MAC.
    public static func hex(key: [UInt8], message: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        for b in mac(key: key, message: message) { bytes.append(digits[Int(b >> 4)]); bytes.append(digits[Int(b & 15)]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Compares in time independent of where the inputs differ (`CRYPTO_memcmp`).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in chekt_crypto_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 } }
    }
}

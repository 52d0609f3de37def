import CCrypto

/// libcrypto (OpenSSL), loaded on first use through the `CCrypto` shim (dlopen of `libcrypto.so.3`).
public enum CryptoLibrary {
    /// OpenSSL's version string (`OpenSSL_version(OPENSSL_VERSION)`), e.g. `OpenSSL 3.0.19 27 Jan 2026`,
    /// or why libcrypto cannot be loaded.
    public static var version: String {
        if let reason = HMACSHA256.unavailableReason { return "libcrypto unavailable: \(reason)" }
        guard let text = chekt_crypto_version() else { return "libcrypto unavailable: libcrypto.so.3 lacks OpenSSL_version" }
        return String(cString: text)
    }
}

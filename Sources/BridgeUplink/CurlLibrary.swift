import CCurl

/// libcurl, loaded on first use through the `CCurl` shim (dlopen of `libcurl.so.4`).
public enum CurlLibrary {
    /// nil when libcurl is usable, else why not.
    public static var unavailableReason: String? {
        chekt_curl_load().map { String(cString: $0) }
    }

    /// `curl_version()`, e.g. `libcurl/7.88.1 OpenSSL/3.0.19 ...`, or why libcurl cannot be loaded.
    public static var version: String {
        if let reason = unavailableReason { return "libcurl unavailable: \(reason)" }
        return String(cString: chekt_curl_version())
    }

    /// `curl_easy_strerror(code)`: libcurl's own words for a `CURLcode`. They change between libcurl versions
    /// (code 7 is "Couldn't connect to server" in 7.88, Debian 12, and "Could not connect to server" in 8.x,
    /// Debian 13), so whatever looks for them asks this function, never a fixed text. Call only once libcurl
    /// loaded (`unavailableReason == nil`).
    public static func words(for code: Int32) -> String {
        String(cString: chekt_curl_easy_strerror(CURLcode(UInt32(bitPattern: code))))
    }
}

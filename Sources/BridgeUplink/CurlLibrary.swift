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
}

import CCurl

/// libcurl, linked through the `CCurl` system-library target.
public enum CurlLibrary {
    /// `curl_version()`, e.g. `libcurl/7.88.1 OpenSSL/3.0.19 ...`.
    public static var version: String { String(cString: curl_version()) }
}

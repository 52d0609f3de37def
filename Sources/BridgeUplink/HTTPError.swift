import CCurl

/// A request that got no HTTP response: what kind of failure, libcurl's code and its words.
///
/// An HTTP status, even `500`, is not an `HTTPError`: it is a response. `code`
/// lets the caller choose (every code here is worth a retry with back-off
/// except a `.tls` failure, which needs a technician); `message` is written
/// for the log and holds `curl_easy_strerror` plus the detail libcurl wrote
/// into `CURLOPT_ERRORBUFFER`. It never holds request headers or bodies, so
/// the API key cannot leak through it.
public struct HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Hashable {
        /// The TCP connection was refused or could not be made (`CURLE_COULDNT_CONNECT`).
        case connect
        /// Connecting or the whole transfer took longer than allowed (`CURLE_OPERATION_TIMEDOUT`).
        case timeout
        /// The TLS handshake failed or the server's certificate is not trusted.
        case tls
        /// The host name (or the proxy's) did not resolve.
        case dns
        /// Sending the request failed (`CURLE_SEND_ERROR`).
        case send
        /// Receiving the response failed or it was not HTTP (connection reset, empty reply, too large).
        case receive
        /// Anything else, including a request this client refuses to send (bad header, libcurl setup).
        case other
    }

    public var code: Code
    /// The `CURLcode`, or 0 when the failure was detected before libcurl ran.
    public var curlCode: Int32
    public var message: String
    /// The request's URL (the upstream base URL carries no credentials; see `UpstreamURL`).
    public var url: String

    /// Makes an error; `code` is usually derived from `curlCode` with `Code(curlCode:)`.
    public init(code: Code, curlCode: Int32, message: String, url: String = "") {
        self.code = code
        self.curlCode = curlCode
        self.message = message
        self.url = url
    }

    public var description: String {
        var s = url.isEmpty ? message : "\(url): \(message)"
        if curlCode != 0 { s += " (curl error \(curlCode))" }
        return s
    }
}

extension HTTPError.Code {
    /// Classifies a `CURLcode` (values from curl.h; stable across libcurl 7.x and 8.x).
    public init(curlCode: Int32) {
        switch curlCode {
        case 5, 6: self = .dns  // COULDNT_RESOLVE_PROXY, COULDNT_RESOLVE_HOST
        case 7: self = .connect  // COULDNT_CONNECT
        case 28: self = .timeout  // OPERATION_TIMEDOUT (connect or transfer)
        case 35, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98:
            // SSL_CONNECT_ERROR, SSL_ENGINE_NOTFOUND/SETFAILED, SSL_CERTPROBLEM, SSL_CIPHER,
            // PEER_FAILED_VERIFICATION, USE_SSL_FAILED, SSL_ENGINE_INITFAILED, SSL_CACERT_BADFILE,
            // SSL_SHUTDOWN_FAILED, SSL_CRL_BADFILE, SSL_ISSUER_ERROR, SSL_PINNEDPUBKEYNOTMATCH,
            // SSL_INVALIDCERTSTATUS, SSL_CLIENTCERT
            self = .tls
        case 55, 65: self = .send  // SEND_ERROR, SEND_FAIL_REWIND
        case 8, 16, 18, 23, 52, 56, 61, 92:
            // WEIRD_SERVER_REPLY, HTTP2, PARTIAL_FILE, WRITE_ERROR (our size limit), GOT_NOTHING, RECV_ERROR,
            // BAD_CONTENT_ENCODING, HTTP2_STREAM
            self = .receive
        default: self = .other
        }
    }
}

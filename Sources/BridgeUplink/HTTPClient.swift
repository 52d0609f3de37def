import CCurl
import Glibc

/// One libcurl easy handle, reused for connection keep-alive. NOT thread-safe: one owner thread. Blocking.
///
/// Why libcurl and not FoundationNetworking's URL session: on Linux its long-poll on a new
/// connection busy-waits (seconds of CPU per poll, see
/// shared/notes/linux-swift-facts.md); `curl_easy_perform` sleeps in `poll`.
///
/// - Keep-alive: the handle keeps its connection cache between `perform`
///   calls (`curl_easy_reset` clears options, never live connections), so
///   consecutive requests to the platform share one TCP/TLS connection.
/// - Timeouts: `CURLOPT_CONNECTTIMEOUT_MS` and a per-request
///   `CURLOPT_TIMEOUT_MS` for the whole transfer; `CURLOPT_NOSIGNAL` is set
///   so timeouts never use `SIGALRM` (the agent has other threads).
/// - Proxies: none is configured here, so libcurl applies the environment
///   itself: `http_proxy` (lower case only: libcurl ignores `HTTP_PROXY`),
///   `https_proxy`/`HTTPS_PROXY`, `all_proxy`, and `no_proxy` (checked by
///   `HTTPClientProxyTests`).
/// - Only `http` and `https` are allowed (`CURLOPT_PROTOCOLS_STR`), HTTP/1.1,
///   no redirects (a `3xx` is returned as a response).
/// - Headers curl would add on its own that the platform must not see are
///   suppressed: `Expect: 100-continue` (a 1 s stall with servers that ignore
///   it) and the form `Content-Type` on bodies the caller did not type.
/// - Certificate authorities: see `Options.caFile`; without it, the system's
///   hashed CA folder alone where there is one (`CertificateAuthorities.systemDirectory`).
///
/// The handle and its buffers are released in `deinit`.
public final class HTTPClient {
    /// How the client connects; fixed for the client's life.
    public struct Options: Sendable {
        /// Sent as `User-Agent` on every request, e.g. `chekt-bridge/1.2.0`.
        public var userAgent: String
        /// Limit for making the TCP connection and TLS handshake.
        public var connectTimeoutMs: Int
        /// Limit for a whole request unless `perform(_:timeoutMs:)` says otherwise.
        public var timeoutMs: Int
        /// A PEM file of extra certificate authorities, trusted *in addition to* the system store.
        ///
        /// libcurl's OpenSSL backend loads both `CURLOPT_CAINFO` and
        /// `CURLOPT_CAPATH`, so when the system's hashed CA folder exists
        /// (Debian: `/etc/ssl/certs`, kept by `update-ca-certificates`) this
        /// file becomes `CAINFO` and the folder stays `CAPATH`. Where there is
        /// no hashed folder, the system bundle and this file are concatenated
        /// in memory and given as `CURLOPT_CAINFO_BLOB` (no temporary file).
        /// The file is read and checked when the client is made.
        public var caFile: String?
        /// A larger response body fails with `.receive` instead of growing memory without bound.
        public var maxResponseBytes: Int
        /// Where the system's CA bundle and hashed CA folder are; nil means libcurl's built-in
        /// locations (`CURLINFO_CAINFO`, `CURLINFO_CAPATH`). Tests point these at a fake system store.
        var systemCAFile: String?
        var systemCADirectory: String?

        /// Options with the defaults for talking to the platform.
        public init(userAgent: String, connectTimeoutMs: Int = 10_000, timeoutMs: Int = 30_000,
                    caFile: String? = nil, maxResponseBytes: Int = 8 << 20) {
            self.userAgent = userAgent
            self.connectTimeoutMs = connectTimeoutMs
            self.timeoutMs = timeoutMs
            self.caFile = caFile
            self.maxResponseBytes = maxResponseBytes
        }
    }

    /// The options the client was made with.
    public let options: Options
    private let handle: UnsafeMutableRawPointer
    /// Internal so tests can see which way the extra CA was combined with the system store.
    let authorities: CertificateAuthorities
    /// `CURLOPT_ERRORBUFFER`: libcurl writes its detailed message here; it must outlive every transfer.
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// A non-null pointer for an empty body: libcurl reads a null `POSTFIELDS` as "no body at all".
    private let emptyBody: UnsafeMutablePointer<CChar>

    /// Makes the easy handle and checks `options.caFile`; fails with `.tls` when that file is unusable.
    public init(options: Options) throws(HTTPError) {
        let global = CurlGlobal.initResult
        if global == -1, let reason = CurlLibrary.unavailableReason {
            throw HTTPError(code: .other, curlCode: 0, message: reason)
        }
        guard global == 0 else {
            throw HTTPError(code: .other, curlCode: global,
                            message: "curl_global_init failed: \(CurlLibrary.words(for: global))")
        }
        guard let handle = chekt_curl_easy_init() else {
            throw HTTPError(code: .other, curlCode: 0, message: "curl_easy_init failed (out of memory?)")
        }
        let authorities: CertificateAuthorities
        do {
            authorities = try CertificateAuthorities.make(options: options, handle: handle)
        } catch {
            chekt_curl_easy_cleanup(handle)
            throw error
        }
        self.options = options
        self.handle = handle
        self.authorities = authorities
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        self.emptyBody = .allocate(capacity: 1)
        self.emptyBody.initialize(to: 0)
    }

    deinit {
        chekt_curl_easy_cleanup(handle)
        errorBuffer.deallocate()
        emptyBody.deallocate()
        authorities.release()
    }

    /// Sends `request` and waits for the whole response, at most `timeoutMs` (default `options.timeoutMs`).
    ///
    /// Any HTTP status is a response; only a failure to get one throws.
    /// Blocks the calling thread (in `poll`, not spinning).
    public func perform(_ request: HTTPRequest, timeoutMs: Int? = nil) throws(HTTPError) -> HTTPResponse {
        let method = request.method.uppercased()
        guard !method.isEmpty, method.utf8.allSatisfy(Self.isTokenByte) else {
            throw HTTPError(code: .other, curlCode: 0, message: "refusing to send: \"\(request.method)\" is not an HTTP method",
                            url: request.url)
        }
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { chekt_curl_slist_free_all(headerList) }
        let sendsBody = !request.body.isEmpty || method == "POST" || method == "PUT" || method == "PATCH"
        for line in try Self.headerLines(request, sendsBody: sendsBody) {
            guard let appended = chekt_curl_slist_append(headerList, line) else {
                throw HTTPError(code: .other, curlCode: 0, message: "curl_slist_append failed (out of memory?)", url: request.url)
            }
            headerList = appended
        }

        chekt_curl_easy_reset(handle)
        let sink = TransferSink(maxBodyBytes: options.maxResponseBytes)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        errorBuffer[0] = 0

        let setup = configure(request: request, method: method, headerList: headerList,
                              timeoutMs: timeoutMs ?? options.timeoutMs, context: context)
        if setup != CURLE_OK { throw failure(setup, url: request.url, during: "setting up the request") }

        let result: CURLcode = withExtendedLifetime(sink) {
            guard sendsBody else { return chekt_curl_easy_perform(handle) }
            return request.body.withUnsafeBufferPointer { body -> CURLcode in
                let pointer = body.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) } ?? UnsafeMutableRawPointer(emptyBody)
                var code = chekt_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
                if code == CURLE_OK { code = chekt_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, pointer) }
                if code == CURLE_OK, method != "POST" {
                    // POSTFIELDS turns the request into a POST; CUSTOMREQUEST puts the method back on the wire.
                    code = chekt_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
                }
                guard code == CURLE_OK else { return code }
                let performed = chekt_curl_easy_perform(handle)
                // The buffer is about to go away; the handle must not keep pointing at it.
                _ = chekt_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, nil)
                return performed
            }
        }
        if sink.bodyTooLarge {
            throw HTTPError(code: .receive, curlCode: Int32(bitPattern: result.rawValue),
                            message: "the response body is larger than the \(options.maxResponseBytes) bytes this client accepts",
                            url: request.url)
        }
        guard result == CURLE_OK else { throw failure(result, url: request.url, during: nil) }

        var status = 0
        var newConnections = 0
        _ = chekt_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        _ = chekt_curl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &newConnections)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body, reusedConnection: newConnections == 0)
    }

    // MARK: Options per transfer

    /// Sets everything but the body; returns the first failing setopt's code.
    private func configure(request: HTTPRequest, method: String, headerList: UnsafeMutablePointer<curl_slist>?,
                           timeoutMs: Int, context: UnsafeMutableRawPointer) -> CURLcode {
        var steps: [() -> CURLcode] = [
            { chekt_curl_setopt_string(self.handle, CURLOPT_URL, request.url) },
            { chekt_curl_setopt_string(self.handle, CURLOPT_PROTOCOLS_STR, "http,https") },
            { chekt_curl_setopt_long(self.handle, CURLOPT_NOSIGNAL, 1) },
            { chekt_curl_setopt_long(self.handle, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1) },
            { chekt_curl_setopt_long(self.handle, CURLOPT_CONNECTTIMEOUT_MS, self.options.connectTimeoutMs) },
            { chekt_curl_setopt_long(self.handle, CURLOPT_TIMEOUT_MS, timeoutMs) },
            { chekt_curl_setopt_pointer(self.handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(self.errorBuffer)) },
            { chekt_curl_setopt_string(self.handle, CURLOPT_USERAGENT, self.options.userAgent) },
            { chekt_curl_setopt_slist(self.handle, CURLOPT_HTTPHEADER, headerList) },
            { chekt_curl_setopt_write(self.handle, TransferSink.onBody) },
            { chekt_curl_setopt_pointer(self.handle, CURLOPT_WRITEDATA, context) },
            { chekt_curl_setopt_header(self.handle, TransferSink.onHeader) },
            { chekt_curl_setopt_pointer(self.handle, CURLOPT_HEADERDATA, context) },
        ]
        switch method {
        case "GET" where request.body.isEmpty: steps.append { chekt_curl_setopt_long(self.handle, CURLOPT_HTTPGET, 1) }
        case "HEAD": steps.append { chekt_curl_setopt_long(self.handle, CURLOPT_NOBODY, 1) }
        case "GET", "POST", "PUT", "PATCH": break  // set with the body in perform
        default:
            if request.body.isEmpty { steps.append { chekt_curl_setopt_string(self.handle, CURLOPT_CUSTOMREQUEST, method) } }
        }
        steps.append(contentsOf: authorities.setters(handle: handle))
        for step in steps {
            let code = step()
            if code != CURLE_OK { return code }
        }
        return CURLE_OK
    }

    /// The request's header lines plus the suppressions; refuses names and values that would break the framing.
    private static func headerLines(_ request: HTTPRequest, sendsBody: Bool) throws(HTTPError) -> [String] {
        var lines: [String] = []
        var hasContentType = false
        var hasExpect = false
        for (name, value) in request.headers {
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
                throw HTTPError(code: .other, curlCode: 0, message: "refusing to send: header name \"\(name)\" is not an HTTP token",
                                url: request.url)
            }
            // The value is not quoted: it may be the API key.
            guard !value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
                throw HTTPError(code: .other, curlCode: 0,
                                message: "refusing to send: the value of header \(name) contains a line break or NUL",
                                url: request.url)
            }
            let lower = name.lowercased()
            if lower == "content-type" { hasContentType = true }
            if lower == "expect" { hasExpect = true }
            // "Name:" would tell libcurl to remove the header; "Name;" sends it empty.
            lines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        if sendsBody && !hasContentType { lines.append("Content-Type:") }
        // libcurl 7.88 adds "Expect: 100-continue" to bodies over 1 MiB.
        if !hasExpect { lines.append("Expect:") }
        return lines
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    /// Turns a `CURLcode` into an `HTTPError` with `curl_easy_strerror` and the error buffer's detail.
    private func failure(_ code: CURLcode, url: String, during: String?) -> HTTPError {
        let raw = Int32(bitPattern: code.rawValue)
        var message = CurlLibrary.words(for: raw)
        let detail = String(cString: errorBuffer)
        if !detail.isEmpty && detail != message { message += ": " + detail }
        if let during { message = "\(during): \(message)" }
        return HTTPError(code: HTTPError.Code(curlCode: raw), curlCode: raw, message: message, url: url)
    }
}

/// `curl_global_init` must run once before any other libcurl use; a `static let` initialiser runs exactly once,
/// thread-safely (swift_once), on first use.
enum CurlGlobal {
    static let initResult: Int32 = {
        // Loading libcurl (dlopen) happens here, once, before any other use.
        if chekt_curl_load() != nil { return -1 }
        return Int32(bitPattern: chekt_curl_global_init(Int(CURL_GLOBAL_DEFAULT)).rawValue)
    }()
}

/// Collects one transfer's headers and body from libcurl's callbacks (passed to C as an unretained context).
final class TransferSink {
    let maxBodyBytes: Int
    var headers: [(String, String)] = []
    var body: [UInt8] = []
    var bodyTooLarge = false

    init(maxBodyBytes: Int) { self.maxBodyBytes = maxBodyBytes }

    /// `CURLOPT_WRITEFUNCTION`: returning less than given makes libcurl stop with `CURLE_WRITE_ERROR`.
    static let onBody: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, context in
        guard let data, let context else { return 0 }
        let sink = Unmanaged<TransferSink>.fromOpaque(context).takeUnretainedValue()
        let n = size * count
        guard sink.body.count + n <= sink.maxBodyBytes else {
            sink.bodyTooLarge = true
            return 0
        }
        sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n))
        return n
    }

    /// `CURLOPT_HEADERFUNCTION`: called once per header line, status lines included.
    static let onHeader: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, context in
        guard let data, let context else { return 0 }
        let sink = Unmanaged<TransferSink>.fromOpaque(context).takeUnretainedValue()
        let n = size * count
        sink.headerLine(Array(UnsafeRawBufferPointer(start: data, count: n)))
        return n
    }

    func headerLine(_ raw: [UInt8]) {
        var line = raw[...]
        while let last = line.last, last == 13 || last == 10 { line = line.dropLast() }
        if line.starts(with: "HTTP/".utf8) {
            // A new response begins (after `100 Continue` or a proxy's CONNECT reply): only the last one counts.
            headers.removeAll()
            return
        }
        guard !line.isEmpty else { return }
        if line.first == 32 || line.first == 9 {
            // obs-fold (RFC 9110 §5.5): a continuation of the previous value.
            if let previous = headers.popLast() {
                headers.append((previous.0, previous.1 + " " + Self.trimmed(line)))
            }
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        headers.append((name, Self.trimmed(line[(colon + 1)...])))
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> String {
        var s = bytes
        while let f = s.first, f == 32 || f == 9 { s = s.dropFirst() }
        while let l = s.last, l == 32 || l == 9 { s = s.dropLast() }
        return String(decoding: s, as: UTF8.self)
    }
}

import Foundation
import Glibc
import Testing
import TestSupport
@testable import BridgeUplink

/// HTTPClient against a real HTTP/1.1 server on 127.0.0.1 (Tools/test-support/http_test_server.py).
@Suite struct HTTPClientTests {
    @Test func getSendsHeadersAndReturnsResponseHeaders() throws {
        let server = try TestServer()
        let client = try HTTPClient.forTests()
        let response = try client.perform(HTTPRequest(url: server.url("/echo?x=1"), headers: [
            ("Authorization", "Bearer key_123"), ("X-Bridge-Id", "brg_demo"), ("X-Repeated", "one"), ("X-Repeated", "two"),
        ]))
        #expect(response.status == 200)
        let echo = try Echo(response)
        #expect(echo.method == "GET")
        #expect(echo.target == "/echo?x=1")
        #expect(echo.values("Authorization") == ["Bearer key_123"])
        #expect(echo.values("X-Bridge-Id") == ["brg_demo"])
        #expect(echo.values("X-Repeated") == ["one", "two"])
        #expect(echo.values("User-Agent") == ["chekt-bridge/test"])
        #expect(echo.values("Content-Length").isEmpty)
        #expect(echo.body.isEmpty)
        // Names arrive lower-cased, repeated headers are kept in order, lookups ignore case.
        #expect(response.headers.allSatisfy { $0.0 == $0.0.lowercased() })
        #expect(response.headers(named: "X-Test-Extra") == ["yes", "again"])
        #expect(response.header("CONTENT-LENGTH") == String(response.body.count))
        #expect(response.header("x-missing") == nil)
    }

    @Test func postSendsTheExactBodyWithoutCurlsDefaults() throws {
        let server = try TestServer()
        let client = try HTTPClient.forTests()
        // Every byte value, and more than 1 MiB (where libcurl 7.88 adds "Expect: 100-continue" on its own).
        let body = (0..<1_100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let response = try client.perform(HTTPRequest(method: "POST", url: server.url("/echo"), body: body))
        let echo = try Echo(response)
        #expect(echo.method == "POST")
        #expect(echo.body == body)
        #expect(echo.values("Content-Length") == ["1100000"])
        #expect(echo.values("Expect").isEmpty)
        #expect(echo.values("Content-Type").isEmpty, "libcurl's form Content-Type must not be added")
    }

    @Test func postAndPutKeepTheCallersContentType() throws {
        let server = try TestServer()
        let client = try HTTPClient.forTests()
        let json = Array(#"{"events":[]}"#.utf8)
        for method in ["POST", "PUT", "PATCH"] {
            let response = try client.perform(HTTPRequest(method: method, url: server.url("/echo"),
                                                          headers: [("Content-Type", "application/json")], body: json))
            let echo = try Echo(response)
            #expect(echo.method == method)
            #expect(echo.body == json)
            #expect(echo.values("Content-Type") == ["application/json"])
        }
    }

    @Test func emptyBodiesAndMethodsWithoutBodies() throws {
        let server = try TestServer()
        let client = try HTTPClient.forTests()
        // A POST with nothing to say still says so: Content-Length: 0 (and signs "").
        let post = try Echo(client.perform(HTTPRequest(method: "POST", url: server.url("/echo"))))
        #expect(post.method == "POST")
        #expect(post.values("Content-Length") == ["0"])
        let delete = try Echo(client.perform(HTTPRequest(method: "DELETE", url: server.url("/echo"))))
        #expect(delete.method == "DELETE")
        #expect(delete.values("Content-Length").isEmpty)
        // After a POST on the same handle, a GET must not carry the old body (curl_easy_reset between requests).
        let get = try Echo(client.perform(HTTPRequest(method: "get", url: server.url("/echo"))))
        #expect(get.method == "GET")
        #expect(get.body.isEmpty)
        let head = try client.perform(HTTPRequest(method: "HEAD", url: server.url("/echo")))
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        #expect(Int(head.header("content-length") ?? "") ?? 0 > 0)
    }

    @Test(arguments: [200, 201, 204, 301, 400, 401, 404, 408, 413, 429, 500, 503])
    func everyStatusIsAResponse(status: Int) throws {
        let server = try TestServer()
        let client = try HTTPClient.forTests()
        let response = try client.perform(HTTPRequest(method: "POST", url: server.url("/echo?status=\(status)"), body: [1]))
        #expect(response.status == status)
        if status == 204 { #expect(response.body.isEmpty) } else { #expect(try Echo(response).body == [1]) }
        // The connection survives a non-2xx answer.
        #expect(try client.perform(HTTPRequest(url: server.url("/echo"))).reusedConnection)
    }

    @Test func dateHeaderArrivesAndParses() throws {
        let server = try TestServer()
        let client = try HTTPClient.forTests()
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let live = try client.perform(HTTPRequest(url: server.url("/echo")))
        let after = Int64(Date().timeIntervalSince1970 * 1000)
        let date = try #require(live.header("date").flatMap(HTTPDate.parse))
        // Same machine, same clock: the server's Date lies within the request, to its 1 s resolution.
        #expect(date >= before / 1000 * 1000 && date <= after)

        let fixed = "Sun, 06 Nov 1994 08:49:37 GMT"
        let response = try client.perform(HTTPRequest(url: server.url("/echo?date=" + fixed.replacingOccurrences(of: " ", with: "%20"))))
        #expect(response.header("Date") == fixed)
        #expect(response.header("date").flatMap(HTTPDate.parse) == 784_111_777_000)
    }

    @Test func connectionIsReusedAcrossRequests() throws {
        let server = try TestServer()
        let client = try HTTPClient.forTests()
        var reused: [Bool] = []
        var connections: Set<Int> = []
        for i in 0..<5 {
            let method = ["GET", "POST", "PUT", "GET", "DELETE"][i]
            let response = try client.perform(HTTPRequest(method: method, url: server.url("/echo"), body: method == "GET" ? [] : [7]))
            reused.append(response.reusedConnection)
            connections.insert(try Echo(response).connection)
        }
        #expect(reused == [false, true, true, true, true])
        #expect(connections.count == 1)
        let stats = try JSONDecoder().decode([String: Int].self, from: Data(client.perform(HTTPRequest(url: server.url("/stats"))).body))
        #expect(stats["connections"] == 1)
        #expect(stats["requests"] == 6)

        // When the server closes, the next request reconnects by itself.
        _ = try client.perform(HTTPRequest(url: server.url("/close")))
        let again = try client.perform(HTTPRequest(url: server.url("/echo")))
        #expect(!again.reusedConnection)
        #expect(try Echo(again).connection == 2)
    }

    /// No content coding is offered: a response body is the bytes the platform signed (protocol.md signs "raw body
    /// bytes"), with no question whether that means before or after decompression.
    @Test func noContentCodingIsOfferedSoBodiesArriveAsSent() throws {
        let server = try TestServer()
        let client = try HTTPClient.forTests()
        #expect(try Echo(client.perform(HTTPRequest(url: server.url("/echo")))).values("accept-encoding").isEmpty)
        let response = try client.perform(HTTPRequest(url: server.url("/gzip")))  // gzip only when asked for
        #expect(response.header("content-encoding") == nil)
        #expect(response.body == Array(String(repeating: "compressed ", count: 100).utf8))
    }

    @Test func refusedConnectionIsConnectError() throws {
        let port = try unusedPort()
        let client = try HTTPClient.forTests()
        let error = try #require(thrown(HTTPError.self) {
            try client.perform(HTTPRequest(url: "http://127.0.0.1:\(port)/events"))
        })
        #expect(error.code == .connect)
        #expect(error.curlCode == 7)
        #expect(error.url == "http://127.0.0.1:\(port)/events")
        // libcurl's words for code 7, whichever libcurl this is ("Couldn't connect to server" in 7.88, "Could not ..." in 8).
        #expect(error.description.contains(CurlLibrary.words(for: 7)))
        #expect(CurlLibrary.words(for: 7).contains("connect to server"))
    }

    @Test func serverThatNeverAnswersTimesOut() throws {
        let server = try TestServer()
        let client = try HTTPClient.forTests(timeoutMs: 60_000)
        let started = DispatchTime.now().uptimeNanoseconds
        let error = try #require(thrown(HTTPError.self) {
            try client.perform(HTTPRequest(url: server.url("/hang")), timeoutMs: 300)
        })
        let elapsedMs = (DispatchTime.now().uptimeNanoseconds - started) / 1_000_000
        #expect(error.code == .timeout)
        #expect(error.curlCode == 28)
        // The per-request 300 ms applied, not the client's 60 s (generous bound: a slow CI still passes).
        #expect(elapsedMs < 10_000)
        // The handle is still usable afterwards.
        #expect(try client.perform(HTTPRequest(url: server.url("/echo"))).status == 200)
    }

    @Test func unknownHostIsDNSError() throws {
        let client = try HTTPClient.forTests()
        let error = try #require(thrown(HTTPError.self) {
            try client.perform(HTTPRequest(url: "https://no-such-host.chekt-bridge.invalid/v1"))
        })
        #expect(error.code == .dns)
    }

    @Test func oversizedBodyIsRefusedAndClientRecovers() throws {
        let server = try TestServer()
        let client = try HTTPClient.forTests(maxResponseBytes: 1_000)
        #expect(try client.perform(HTTPRequest(url: server.url("/echo?size=1000"))).body.count == 1_000)
        let error = try #require(thrown(HTTPError.self) {
            try client.perform(HTTPRequest(url: server.url("/echo?size=1001")))
        })
        #expect(error.code == .receive)
        #expect(error.message.contains("1000 bytes"))
        #expect(try client.perform(HTTPRequest(url: server.url("/echo?size=10"))).body.count == 10)
    }

    @Test func headerInjectionIsRefusedWithoutQuotingTheValue() throws {
        let client = try HTTPClient.forTests()
        let secret = "key_SECRET_42\r\nX-Evil: 1"
        let error = try #require(thrown(HTTPError.self) {
            try client.perform(HTTPRequest(url: "http://127.0.0.1:1/", headers: [("Authorization", "Bearer " + secret)]))
        })
        #expect(error.code == .other)
        #expect(error.message.contains("Authorization"))
        #expect(!error.description.contains("SECRET"))

        #expect(throws: HTTPError.self) { try client.perform(HTTPRequest(url: "http://127.0.0.1:1/", headers: [("Bad Name", "x")])) }
        #expect(throws: HTTPError.self) { try client.perform(HTTPRequest(method: "GET /x", url: "http://127.0.0.1:1/")) }
    }

    @Test func onlyHTTPAndHTTPSAreSpoken() throws {
        let client = try HTTPClient.forTests()
        let error = try #require(thrown(HTTPError.self) { try client.perform(HTTPRequest(url: "file:///etc/passwd")) })
        #expect(error.curlCode == 1)  // CURLE_UNSUPPORTED_PROTOCOL
    }

    @Test func curlCodesAreClassified() {
        #expect(HTTPError.Code(curlCode: 6) == .dns)
        #expect(HTTPError.Code(curlCode: 5) == .dns)
        #expect(HTTPError.Code(curlCode: 7) == .connect)
        #expect(HTTPError.Code(curlCode: 28) == .timeout)
        #expect(HTTPError.Code(curlCode: 60) == .tls)
        #expect(HTTPError.Code(curlCode: 35) == .tls)
        #expect(HTTPError.Code(curlCode: 55) == .send)
        #expect(HTTPError.Code(curlCode: 56) == .receive)
        #expect(HTTPError.Code(curlCode: 52) == .receive)
        #expect(HTTPError.Code(curlCode: 3) == .other)
    }

    /// A port nothing listens on: bound by the kernel, then released.
    private func unusedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestSetupError("bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// libcurl takes proxies from the environment; nothing in HTTPClient turns that off.
@Suite struct HTTPClientProxyTests {
    @Test func httpProxyFromTheEnvironmentIsUsed() throws {
        let proxy = try TestEnvironment.proxy.get()
        let client = try HTTPClient.forTests()
        // The probe host does not exist: only the proxy (http_proxy, set once by TestEnvironment) can answer.
        let response = try client.perform(HTTPRequest(url: "http://platform.chekt-bridge.example/echo"))
        let echo = try Echo(response)
        #expect(echo.target == "http://platform.chekt-bridge.example/echo", "the proxy got the absolute-form target")
        #expect(ProcessInfo.processInfo.environment["http_proxy"] == "http://127.0.0.1:\(proxy.port)")

        // no_proxy (127.0.0.1) keeps direct traffic direct: the target is origin-form.
        let server = try TestServer()
        #expect(try Echo(client.perform(HTTPRequest(url: server.url("/echo")))).target == "/echo")
    }
}

/// The cost of a long-poll: libcurl waits in poll(2), where URLSession spun (linux-swift-facts.md).
@Suite struct HTTPClientLongPollTests {
    @Test func fiveSecondLongPollCompletesAndCPUIsReported() throws {
        let server = try TestServer()
        let client = try HTTPClient.forTests(timeoutMs: 30_000)
        // Warm: the measured poll goes over a fresh connection, the case that busy-looped in URLSession.
        let before = threadCPUMicros()
        let started = DispatchTime.now().uptimeNanoseconds
        let response = try client.perform(HTTPRequest(url: server.url("/delay?ms=5000")))
        let wallMs = (DispatchTime.now().uptimeNanoseconds - started) / 1_000_000
        let cpuMicros = threadCPUMicros() - before
        #expect(response.status == 200)
        #expect(response.body == Array("late".utf8))
        #expect(!response.reusedConnection)
        // A figure, not an assertion (house style: performance is measured, not asserted).
        print("long-poll: wall \(wallMs) ms, CPU (user+sys, this thread) \(Double(cpuMicros) / 1000) ms")
    }

    /// User + system CPU of the calling thread (`RUSAGE_THREAD`): the thread libcurl blocks in.
    private func threadCPUMicros() -> Int {
        var usage = rusage()
        // RUSAGE_THREAD (1) is behind _GNU_SOURCE, so Glibc does not export its name to Swift.
        _ = getrusage(__rusage_who_t(1), &usage)
        return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
    }
}

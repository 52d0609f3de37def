import Testing
@testable import BridgeUplink

@Suite struct UpstreamURLTests {
    @Test(arguments: [
        ("https://bridge-api.example/v1", "https://bridge-api.example/v1"),
        ("https://bridge-api.example/v1/", "https://bridge-api.example/v1"),
        ("HTTPS://bridge-api.example:8443", "https://bridge-api.example:8443"),
        ("https://10.0.0.1/v1", "https://10.0.0.1/v1"),
        ("https://[2001:db8::1]:443/v1", "https://[2001:db8::1]:443/v1"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
        ("http://127.0.0.2", "http://127.0.0.2"),
        ("http://127.255.255.254:9/", "http://127.255.255.254:9"),
        ("http://[::1]", "http://[::1]"),
        ("http://[::1]:8080/v1", "http://[::1]:8080/v1"),
        ("http://[0:0:0:0:0:0:0:1]/v1", "http://[0:0:0:0:0:0:0:1]/v1"),
        ("http://[::ffff:127.0.0.1]:80", "http://[::ffff:127.0.0.1]:80"),
        ("http://localhost", "http://localhost"),
        ("HTTP://LOCALHOST:8080/v1//", "http://LOCALHOST:8080/v1"),
    ])
    func accepted(url: String, normalised: String) {
        #expect(UpstreamURL.validate(url) == .success(normalised))
    }

    @Test(arguments: [
        ("http://10.0.0.1", UpstreamURLError.Code.insecureHTTP),
        ("http://10.0.0.1:8080/v1", .insecureHTTP),
        ("http://bridge-api.example/v1", .insecureHTTP),
        ("http://127.0.0.1.nip.io/v1", .insecureHTTP),
        ("http://localhost.example.com", .insecureHTTP),
        ("http://128.0.0.1", .insecureHTTP),
        ("http://127.1", .insecureHTTP),
        ("http://0x7f000001", .insecureHTTP),
        ("http://[::2]", .insecureHTTP),
        ("http://[::ffff:10.0.0.1]", .insecureHTTP),
        ("ftp://bridge-api.example", .unsupportedScheme),
        ("ws://localhost", .unsupportedScheme),
        ("bridge-api.example/v1", .malformed),
        ("", .malformed),
        ("https://", .malformed),
        ("https:///v1", .malformed),
        ("https://bridge-api.example:0", .malformed),
        ("https://bridge-api.example:65536", .malformed),
        ("https://bridge-api.example:80a", .malformed),
        ("https://bridge-api.example:", .malformed),
        ("https://[::1", .malformed),
        ("https://[nonsense]/v1", .malformed),
        ("https://bridge api.example/v1", .malformed),
        ("https://bridge-api.example/v1\n", .malformed),
        ("https://key:secret@bridge-api.example/v1", .userInfo),
        ("https://bridge-api.example/v1?token=x", .queryOrFragment),
        ("https://bridge-api.example/v1#x", .queryOrFragment),
    ])
    func refused(url: String, code: UpstreamURLError.Code) throws {
        guard case .failure(let error) = UpstreamURL.validate(url) else {
            Issue.record("\(url) was accepted")
            return
        }
        #expect(error.code == code)
        #expect(error.description.hasPrefix("upstream.url \""))
    }

    @Test func insecureHTTPSaysWhatToDo() throws {
        guard case .failure(let error) = UpstreamURL.validate("http://10.0.0.1/v1") else {
            Issue.record("accepted")
            return
        }
        #expect(error.description.contains("http://10.0.0.1/v1"))
        #expect(error.description.contains("use https://"))
        #expect(error.description.contains("127.0.0.0/8"))
    }

    @Test func passwordsAreNotRepeated() throws {
        guard case .failure(let error) = UpstreamURL.validate("https://key:hunter2@bridge-api.example/v1") else {
            Issue.record("accepted")
            return
        }
        #expect(!error.description.contains("hunter2"))
        #expect(error.description.contains("bridge-api.example/v1"))
    }
}

import Foundation
import Testing
import TestSupport
@testable import BridgeUplink

/// HTTPS against a python ssl server whose certificate comes from a CA made in the test with `openssl`.
@Suite struct HTTPClientTLSTests {
    @Test func untrustedCertificateIsTLSError() throws {
        let tls = try TLSFixture.get()
        let server = try TestServer(cert: tls.serverCertB, key: tls.serverKeyB)
        let client = try HTTPClient.forTests()
        let error = try #require(thrown(HTTPError.self) { try client.perform(HTTPRequest(url: server.url("/echo", https: true))) })
        #expect(error.code == .tls)
        #expect(error.curlCode == 60)  // CURLE_PEER_FAILED_VERIFICATION
        #expect(error.message.contains("certificate"))
    }

    @Test func caFileMakesTheServerTrusted() throws {
        let tls = try TLSFixture.get()
        let server = try TestServer(cert: tls.serverCertB, key: tls.serverKeyB)
        // The real system store (libcurl's built-in locations) plus CA B.
        let client = try HTTPClient.forTests(caFile: tls.caB)
        let first = try client.perform(HTTPRequest(method: "POST", url: server.url("/echo", https: true), body: [1, 2, 3]))
        #expect(first.status == 200)
        #expect(try Echo(first).body == [1, 2, 3])
        // Keep-alive works over TLS too.
        #expect(try client.perform(HTTPRequest(url: server.url("/echo", https: true))).reusedConnection)
    }

    @Test func certificateMustNameTheHost() throws {
        let tls = try TLSFixture.get()
        let server = try TestServer(cert: tls.serverCertB, key: tls.serverKeyB)
        let client = try HTTPClient.forTests(caFile: tls.caB)
        // Trusted CA, but the certificate is for IP:127.0.0.1, not "localhost".
        let error = try #require(thrown(HTTPError.self) {
            try client.perform(HTTPRequest(url: "https://localhost:\(server.port)/echo"))
        })
        #expect(error.code == .tls)
    }

    /// The extra CA adds to the system store: with a hashed system folder (CAPATH) holding CA A and
    /// ca_file holding CA B, servers of both CAs are trusted.
    @Test func caFileAddsToAHashedSystemFolder() throws {
        let tls = try TLSFixture.get()
        let serverA = try TestServer(cert: tls.serverCertA, key: tls.serverKeyA)
        let serverB = try TestServer(cert: tls.serverCertB, key: tls.serverKeyB)
        let client = try HTTPClient.forTests(caFile: tls.caB, systemCAFile: "/nonexistent/bundle.crt",
                                             systemCADirectory: tls.hashedSystemDirectoryA)
        guard case .fileAndDirectory = client.authorities else {
            Issue.record("expected CAINFO + CAPATH, got \(client.authorities)")
            return
        }
        #expect(try client.perform(HTTPRequest(url: serverA.url("/echo", https: true))).status == 200)
        #expect(try client.perform(HTTPRequest(url: serverB.url("/echo", https: true))).status == 200)
    }

    /// Without a hashed folder, the system bundle (CA A) and ca_file (CA B) are joined in memory.
    @Test func caFileAddsToASystemBundle() throws {
        let tls = try TLSFixture.get()
        let serverA = try TestServer(cert: tls.serverCertA, key: tls.serverKeyA)
        let serverB = try TestServer(cert: tls.serverCertB, key: tls.serverKeyB)
        let client = try HTTPClient.forTests(caFile: tls.caB, systemCAFile: tls.systemBundleA,
                                             systemCADirectory: tls.emptyDirectory)
        guard case .blob = client.authorities else {
            Issue.record("expected CAINFO_BLOB, got \(client.authorities)")
            return
        }
        #expect(try client.perform(HTTPRequest(url: serverA.url("/echo", https: true))).status == 200)
        #expect(try client.perform(HTTPRequest(url: serverB.url("/echo", https: true))).status == 200)
    }

    /// No system store found at all: ca_file alone is trusted, and nothing else.
    @Test func caFileAloneWhenThereIsNoSystemStore() throws {
        let tls = try TLSFixture.get()
        let serverA = try TestServer(cert: tls.serverCertA, key: tls.serverKeyA)
        let serverB = try TestServer(cert: tls.serverCertB, key: tls.serverKeyB)
        let client = try HTTPClient.forTests(caFile: tls.caB, systemCAFile: "/nonexistent/bundle.crt",
                                             systemCADirectory: tls.emptyDirectory)
        #expect(try client.perform(HTTPRequest(url: serverB.url("/echo", https: true))).status == 200)
        let error = try #require(thrown(HTTPError.self) { try client.perform(HTTPRequest(url: serverA.url("/echo", https: true))) })
        #expect(error.code == .tls)
    }

    /// Without ca_file, a hashed system folder is used alone (CAPATH, no CAINFO): the system bundle is not
    /// parsed into every connection's store. The folder's CA is trusted, and no other.
    @Test func hashedSystemFolderAloneWithoutCAFile() throws {
        let tls = try TLSFixture.get()
        let serverA = try TestServer(cert: tls.serverCertA, key: tls.serverKeyA)
        let serverB = try TestServer(cert: tls.serverCertB, key: tls.serverKeyB)
        let client = try HTTPClient.forTests(systemCADirectory: tls.hashedSystemDirectoryA)
        guard case .systemDirectory(tls.hashedSystemDirectoryA) = client.authorities else {
            Issue.record("expected CAPATH alone, got \(client.authorities)")
            return
        }
        #expect(try client.perform(HTTPRequest(url: serverA.url("/echo", https: true))).status == 200)
        let error = try #require(thrown(HTTPError.self) { try client.perform(HTTPRequest(url: serverB.url("/echo", https: true))) })
        #expect(error.code == .tls)
    }

    /// Without ca_file and without a hashed folder, libcurl's built-in locations are left as they are.
    @Test func noHashedSystemFolderLeavesLibcurlDefaults() throws {
        let tls = try TLSFixture.get()
        let client = try HTTPClient.forTests(systemCADirectory: tls.emptyDirectory)
        guard case .system = client.authorities else {
            Issue.record("expected libcurl's defaults, got \(client.authorities)")
            return
        }
    }

    @Test func unusableCAFileFailsAtStart() throws {
        let dir = try TestTools.temporaryDirectory("ca")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = try #require(thrown(HTTPError.self) { try HTTPClient.forTests(caFile: dir + "/missing.pem") })
        #expect(missing.code == .tls)
        #expect(missing.message.contains(dir + "/missing.pem"))
        #expect(missing.message.contains("does not exist"))

        try "not a certificate\n".write(toFile: dir + "/junk.pem", atomically: true, encoding: .utf8)
        let junk = try #require(thrown(HTTPError.self) { try HTTPClient.forTests(caFile: dir + "/junk.pem") })
        #expect(junk.code == .tls)
        #expect(junk.message.contains("no PEM certificate"))
    }

    @Test func hashedFolderDetection() throws {
        let tls = try TLSFixture.get()
        #expect(CertificateAuthorities.isHashedCertificateDirectory(tls.hashedSystemDirectoryA))
        #expect(!CertificateAuthorities.isHashedCertificateDirectory(tls.emptyDirectory))
        #expect(!CertificateAuthorities.isHashedCertificateDirectory("/nonexistent"))
    }
}

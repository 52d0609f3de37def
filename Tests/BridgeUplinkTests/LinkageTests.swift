import Testing
@testable import BridgeUplink

@Suite struct LinkageTests {
    @Test func hmacMatchesRFC4231TestCase2() {
        let mac = HMACSHA256.hex(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(mac == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func constantTimeCompare() {
        #expect(HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!HMACSHA256.constantTimeEqual([1, 2], [1, 2, 3]))
    }

    @Test func cryptoReportsOpenSSLsVersion() {
        #expect(CryptoLibrary.version.hasPrefix("OpenSSL 3."), "\(CryptoLibrary.version)")
    }

    @Test func curlLinks() {
        #expect(CurlLibrary.version.hasPrefix("libcurl/"))
    }
}

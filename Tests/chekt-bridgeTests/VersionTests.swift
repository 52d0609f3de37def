import Testing
@testable import chekt_bridge

@Suite struct VersionTests {
    @Test func listsEveryCLibraryIncludingLibcrypto() {
        let line = CLI.versionLine()
        #expect(line.contains("libgpiod "), "\(line)")
        #expect(line.contains("libmodbus "), "\(line)")
        #expect(line.contains("libcurl/"), "\(line)")
        #expect(line.contains("libcrypto (OpenSSL 3."), "\(line)")
    }
}

import Foundation
import Glibc
import Testing
import TestSupport
@testable import BridgeUplink

/// A class suite: each test gets a fresh folder, removed in `deinit` after the test.
@Suite final class CredentialsTests {
    static let apiKey = "key_live_4f9a1a2b3c"
    static let secret = "whsec_SuperSecret_7d1a2b"
    static let goodJSON = #"{"api_key": "key_live_4f9a1a2b3c", "signing_secret": "whsec_SuperSecret_7d1a2b"}"#

    let dir: String
    init() throws { dir = try TestTools.temporaryDirectory("credentials") }
    deinit { try? FileManager.default.removeItem(atPath: dir) }

    /// A folder inside this test's folder, standing in for systemd's $CREDENTIALS_DIRECTORY.
    func credentialsDirectory() throws -> String {
        let path = dir + "/systemd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    /// Writes `content` to `dir/name` with `mode`; returns the path.
    @discardableResult
    func write(_ content: String, _ name: String = "credentials.json", mode: mode_t = 0o600, in folder: String? = nil) throws -> String {
        let path = (folder ?? dir) + "/" + name
        try content.write(toFile: path, atomically: false, encoding: .utf8)
        guard chmod(path, mode) == 0 else { throw TestSetupError("chmod \(path) failed") }
        return path
    }

    /// Asserts the error text nowhere holds the key or the secret, in whole or in long part.
    func expectNoSecrets(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for value in [Self.apiKey, Self.secret, "4f9a1a2b3c", "SuperSecret", "7d1a2b"] {
            #expect(!text.contains(value), "\"\(text)\" contains \(value)", sourceLocation: sourceLocation)
        }
    }

    @Test func mode0600IsAccepted() throws {
        let path = try write(Self.goodJSON)
        let (credentials, resolved) = try Credentials.load(path: path, environment: [:])
        #expect(credentials.apiKey == Self.apiKey)
        #expect(credentials.signingSecret == Self.secret)
        #expect(credentials.signingSecretBytes == Array(Self.secret.utf8))
        #expect(resolved == path)
    }

    @Test func mode0400IsAcceptedAsSystemdWritesIt() throws {
        let path = try write(Self.goodJSON, mode: 0o400)
        #expect(try Credentials.load(path: path, environment: [:]).0.apiKey == Self.apiKey)
    }

    @Test(arguments: [0o644 as mode_t, 0o640, 0o604, 0o660, 0o606, 0o610, 0o601, 0o666])
    func groupOrOtherAccessIsRefusedWithTheFix(mode: mode_t) throws {
        let path = try write(Self.goodJSON, mode: mode)
        let error = try #require(thrown(CredentialsError.self) { try Credentials.load(path: path, environment: [:]) })
        #expect(error.code == .permissionsTooOpen)
        #expect(error.path == path)
        #expect(error.description.contains("chmod 600 \(path)"))
        #expect(error.description.contains("0" + String(mode, radix: 8)))
        expectNoSecrets(error.description)
    }

    @Test func credentialsDirectoryWins() throws {
        let configured = try write(#"{"api_key": "key_from_etc", "signing_secret": "s_etc"}"#)
        let systemd = try credentialsDirectory()
        let fromSystemd = try write(#"{"api_key": "key_from_systemd", "signing_secret": "s_systemd"}"#, mode: 0o400, in: systemd)
        let (credentials, resolved) = try Credentials.load(path: configured, environment: ["CREDENTIALS_DIRECTORY": systemd])
        #expect(credentials.apiKey == "key_from_systemd")
        #expect(resolved == fromSystemd)
        // A trailing slash on the variable changes nothing.
        #expect(try Credentials.load(path: configured, environment: ["CREDENTIALS_DIRECTORY": systemd + "/"]).resolvedPath == fromSystemd)
    }

    @Test func configuredFileWhenCredentialsDirectoryLacksIt() throws {
        let configured = try write(#"{"api_key": "key_from_etc", "signing_secret": "s_etc"}"#)
        let systemd = try credentialsDirectory()
        let (credentials, resolved) = try Credentials.load(path: configured, environment: ["CREDENTIALS_DIRECTORY": systemd])
        #expect(credentials.apiKey == "key_from_etc")
        #expect(resolved == configured)
        #expect(try Credentials.load(path: configured, environment: ["CREDENTIALS_DIRECTORY": ""]).resolvedPath == configured)
    }

    @Test func systemdFileIsCheckedToo() throws {
        let configured = try write(Self.goodJSON)
        let systemd = try credentialsDirectory()
        let open = try write(Self.goodJSON, mode: 0o644, in: systemd)
        let error = try #require(thrown(CredentialsError.self) {
            try Credentials.load(path: configured, environment: ["CREDENTIALS_DIRECTORY": systemd])
        })
        #expect(error.path == open)
        #expect(error.code == .permissionsTooOpen)
    }

    @Test func missingFileSaysWhatToCreate() throws {
        let path = dir + "/nope.json"
        let error = try #require(thrown(CredentialsError.self) { try Credentials.load(path: path, environment: [:]) })
        #expect(error.code == .notFound)
        #expect(error.description.contains(path))
        #expect(error.description.contains("api_key"))
        #expect(error.description.contains("chmod 600"))
    }

    @Test func aFolderIsNotACredentialsFile() throws {
        let error = try #require(thrown(CredentialsError.self) { try Credentials.load(path: dir, environment: [:]) })
        #expect(error.code == .unreadable)
        #expect(error.description.contains("not a regular file"))
    }

    @Test(arguments: [
        (#"{"api_key": "key_live_4f9a1a2b3c", "signing_secret": "whsec_SuperSecret_7d1a2b""#, CredentialsError.Code.invalidJSON),
        (#"api_key=key_live_4f9a1a2b3c signing_secret=whsec_SuperSecret_7d1a2b"#, .invalidJSON),
        (#"["key_live_4f9a1a2b3c", "whsec_SuperSecret_7d1a2b"]"#, .invalidJSON),
        ("", .invalidJSON),
        (#"{"api_key": "key_live_4f9a1a2b3c"}"#, .missingKey),
        (#"{"signing_secret": "whsec_SuperSecret_7d1a2b"}"#, .missingKey),
        (#"{"api_key": "key_live_4f9a1a2b3c", "signing-secret": "whsec_SuperSecret_7d1a2b"}"#, .missingKey),
        (#"{"api_key": "", "signing_secret": "whsec_SuperSecret_7d1a2b"}"#, .emptyValue),
        (#"{"api_key": "key_live_4f9a1a2b3c", "signing_secret": ""}"#, .emptyValue),
        (#"{"api_key": 4, "signing_secret": "whsec_SuperSecret_7d1a2b"}"#, .wrongType),
        (#"{"api_key": "key_live_4f9a1a2b3c", "signing_secret": null}"#, .wrongType),
        (#"{"api_key": "key_live_4f9a1a2b3c\n", "signing_secret": "whsec_SuperSecret_7d1a2b"}"#, .invalidValue),
        (#"{"api_key": "key_live_4f9a1a2b3c", "signing_secret": " whsec_SuperSecret_7d1a2b"}"#, .invalidValue),
        (#"{"api_key": "key_live 4f9a1a2b3c", "signing_secret": "whsec_SuperSecret_7d1a2b"}"#, .invalidValue),
        // A line break inside the key would inject a header into every request.
        (#"{"api_key": "key_live_4f9a\r\nX-Evil: 1", "signing_secret": "whsec_SuperSecret_7d1a2b"}"#, .invalidValue),
        (#"{"api_key": "key_live_4f9a1a2b3c", "signing_secret": "whsec_SuperSecret_7d1a2b", "whsec_SuperSecret_7d1a2b": 1}"#, .unknownKey),
        // Strict JSON, as the configuration files: a trailing comma, a repeated key (even with the secret as key).
        (#"{"api_key": "key_live_4f9a1a2b3c", "signing_secret": "whsec_SuperSecret_7d1a2b",}"#, .invalidJSON),
        (#"{"api_key": "key_live_4f9a1a2b3c", "api_key": "key_live_4f9a1a2b3c", "signing_secret": "whsec_SuperSecret_7d1a2b"}"#, .repeatedKey),
        ("{\"api_key\": \"key_live_4f9a1a2b3c\", \"signing_secret\": \"whsec_SuperSecret_7d1a2b\",\n \"whsec_SuperSecret_7d1a2b\": 1, \"whsec_SuperSecret_7d1a2b\": 2}", .repeatedKey),
        (#"{"api_key": "key_live_4f9a1a2b3c", "signing_secret": "whsec_SuperSecret_7d1a2b"} x"#, .invalidJSON),
    ])
    func badContentIsNamedButNeverQuoted(content: String, code: CredentialsError.Code) throws {
        let path = try write(content)
        let error = try #require(thrown(CredentialsError.self) { try Credentials.load(path: path, environment: [:]) })
        #expect(error.code == code)
        #expect(error.description.contains(path))
        expectNoSecrets(error.description)
        expectNoSecrets(String(describing: error))
        expectNoSecrets(String(reflecting: error))
    }

    @Test func printingCredentialsShowsNothingOfThem() throws {
        let (credentials, _) = try Credentials.load(path: try write(Self.goodJSON), environment: [:])
        var dumped = ""
        dump(credentials, to: &dumped)
        let renderings = [
            credentials.description, credentials.debugDescription, "\(credentials)", String(describing: credentials),
            String(reflecting: credentials), dumped, String(describing: [credentials]), String(describing: Optional(credentials)),
        ]
        for text in renderings {
            expectNoSecrets(text)
            #expect(text.contains("Credentials"))
        }
        #expect(Mirror(reflecting: credentials).children.isEmpty)
    }
}

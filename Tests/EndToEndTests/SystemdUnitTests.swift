import Foundation
import Testing

/// The shipped systemd unit (Tools/install/chekt-bridge.service), checked by systemd's own analyser:
/// `systemd-analyze verify` has nothing to say, and `systemd-analyze security` rates it at most 2.0 ("OK").
@Suite struct SystemdUnitTests {
    static let unit = Repo.root + "/Tools/install/chekt-bridge.service"

    /// Runs `systemd-analyze ARGS`; fails, naming the package, on a machine without it.
    func analyze(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let binary = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw E2EFailure("\(binary) is missing: install Debian's systemd package (Tools/setup does)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func verifyHasNothingToSay() throws {
        // The unit names the installed binary; here it is the one built (verify checks that it is executable).
        let sandbox = try Sandbox()
        let text = try String(contentsOfFile: Self.unit, encoding: .utf8)
            .replacingOccurrences(of: "/usr/bin/chekt-bridge", with: try Tool.path())
        let copy = try sandbox.write("chekt-bridge.service", text)
        let r = try analyze(["verify", copy])
        #expect(r.status == 0 && r.output.isEmpty, "\(r.output)")
    }

    @Test func securityRatesItOK() throws {
        let sandbox = try Sandbox()
        let root = sandbox.root + "/root"
        try FileManager.default.createDirectory(atPath: root + "/etc/systemd/system", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.unit, toPath: root + "/etc/systemd/system/chekt-bridge.service")
        let r = try analyze(["security", "--offline=yes", "--root=" + root, "--no-pager", "chekt-bridge.service"])
        let overall = r.output.split(separator: "\n").first { $0.contains("Overall exposure level") }.map(String.init) ?? ""
        let score = overall.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
        #expect(score != nil && score! <= 2.0, "\(overall)\n\(r.output)")
    }

    @Test func theUnitIsANotifyServiceWithTheWatchdogAndTheAgentsOwnUser() throws {
        let lines = Set(try String(contentsOfFile: Self.unit, encoding: .utf8).split(separator: "\n").map(String.init))
        for wanted in ["Type=notify", "WatchdogSec=20s", "Restart=always", "User=chekt-bridge", "Group=chekt-bridge",
                       "StateDirectory=chekt-bridge", "RuntimeDirectory=chekt-bridge", "ConfigurationDirectory=chekt-bridge",
                       "LoadCredential=credentials.json:/etc/chekt-bridge/credentials.json", "ExecReload=/bin/kill -HUP $MAINPID",
                       "NoNewPrivileges=yes", "CapabilityBoundingSet=", "DevicePolicy=closed", "ProtectSystem=strict",
                       "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes"] {
            #expect(lines.contains(wanted), "missing: \(wanted)")
        }
    }
}

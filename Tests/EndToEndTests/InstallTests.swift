import Foundation
import Glibc
import Testing

/// Tools/install/install into a destination root, as a package build uses it: every file, its mode and owner;
/// the site's files kept across installs and a plain uninstall, removed by --purge.
@Suite struct InstallTests {
    func install(_ arguments: [String]) throws -> ToolResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Repo.root + "/Tools/install/install")
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return ToolResult(arguments: arguments, status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                          stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Every regular file under `root`, relative, with its permission bits and owner uid.
    func files(_ root: String) -> [String: (mode: Int, uid: UInt32)] {
        var all: [String: (Int, UInt32)] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [:] }
        while let relative = walker.nextObject() as? String {
            var st = stat()
            guard lstat(root + "/" + relative, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            all["/" + relative] = (Int(st.st_mode & 0o7777), st.st_uid)
        }
        return all
    }

    @Test func installsEveryFileWithItsModeAndKeepsTheSitesFilesUntilPurged() throws {
        let sandbox = try Sandbox()
        let root = sandbox.root + "/root"
        let first = try install(["--destdir", root, "--binary", try Tool.path()])
        #expect(first.status == 0, "\(first)")

        let installed = files(root)
        let boards = (try FileManager.default.contentsOfDirectory(atPath: Repo.root + "/boards")).filter { $0.hasSuffix(".json") }
        let docs = (try FileManager.default.contentsOfDirectory(atPath: Repo.root + "/docs")).filter { $0.hasSuffix(".md") }
        var expected: [String: Int] = [
            "/usr/bin/chekt-bridge": 0o755,
            "/usr/lib/udev/rules.d/99-chekt-bridge.rules": 0o644,
            "/usr/lib/systemd/system/chekt-bridge.service": 0o644,
            "/usr/share/doc/chekt-bridge/README.md": 0o644,
            "/etc/chekt-bridge/config.json": 0o644,
            "/etc/chekt-bridge/credentials.json": 0o600,
        ]
        for b in boards { expected["/usr/share/chekt-bridge/boards/" + b] = 0o644 }
        for d in docs { expected["/usr/share/doc/chekt-bridge/docs/" + d] = 0o644 }
        #expect(Set(installed.keys) == Set(expected.keys), "extra: \(Set(installed.keys).subtracting(expected.keys)), missing: \(Set(expected.keys).subtracting(installed.keys))")
        for (path, mode) in expected {
            #expect(installed[path]?.mode == mode, "\(path): mode \(String(installed[path]?.mode ?? -1, radix: 8))")
            #expect(installed[path]?.uid == getuid(), "\(path): owner \(installed[path]?.uid ?? 0)")
        }
        #expect(FileManager.default.contentsEqual(atPath: root + "/usr/lib/systemd/system/chekt-bridge.service",
                                                  andPath: Repo.root + "/Tools/install/chekt-bridge.service"))
        // The installed files work: every board validates, and the example config with its board found.
        for b in boards {
            let r = try Tool.run(["board", "validate", root + "/usr/share/chekt-bridge/boards/" + b])
            #expect(r.status == 0, "\(r)")
        }
        var config = try String(contentsOfFile: root + "/etc/chekt-bridge/config.json", encoding: .utf8)
        config = config.replacingOccurrences(of: "\"rpi-relay-3ch.json\"", with: "\"\(root)/usr/share/chekt-bridge/boards/rpi-relay-3ch.json\"")
        let check = try Tool.run(["config", "validate", try sandbox.write("installed-config.json", config)])
        #expect(check.status == 0, "\(check)")

        // The site edits its config; installing again (an upgrade) keeps it, uninstalling keeps it, --purge does not.
        try "{\"edited\": true}\n".write(toFile: root + "/etc/chekt-bridge/config.json", atomically: true, encoding: .utf8)
        #expect(try install(["--destdir", root, "--binary", try Tool.path()]).status == 0)
        #expect(try String(contentsOfFile: root + "/etc/chekt-bridge/config.json", encoding: .utf8) == "{\"edited\": true}\n")
        let removed = try install(["--uninstall", "--destdir", root])
        #expect(removed.status == 0 && removed.stdout.contains("kept"), "\(removed)")
        #expect(Set(files(root).keys) == ["/etc/chekt-bridge/config.json", "/etc/chekt-bridge/credentials.json"])
        let purged = try install(["--uninstall", "--purge", "--destdir", root])
        #expect(purged.status == 0 && files(root).isEmpty, "\(purged) \(files(root).keys)")
    }

    @Test func badOptionsAreUsageErrors() throws {
        #expect(try install(["--purge"]).status == 2)
        #expect(try install(["--frobnicate"]).status == 2)
        let missing = try install(["--destdir", try Sandbox().root + "/r", "--binary", "/nowhere/chekt-bridge"])
        #expect(missing.status == 1 && missing.stderr.contains("/nowhere/chekt-bridge is not an executable"), "\(missing)")
    }
}

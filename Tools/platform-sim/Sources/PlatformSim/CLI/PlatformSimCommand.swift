import ArgumentParser
import Foundation
import UnixSignals

/// The `platform-sim` command: registers the bridges, serves, prints the "listening" line.
///
/// A plain `ParsableCommand` whose work is the async `serve()`, called by `main.swift`: with Swift 6.3,
/// ArgumentParser's async dispatch (`AsyncParsableCommand.main()`) resolves to its synchronous `run()` and prints
/// the help instead of running.
public struct PlatformSimCommand: ParsableCommand {
    /// Name, abstract and help text.
    public static let configuration = CommandConfiguration(
        commandName: "platform-sim",
        abstract: "The reference CHeKT platform for chekt-bridge development, tests and demos.",
        discussion: """
            Serves the bridge API of docs/protocol.md under /v1, an admin API under /admin (loopback only, no auth) \
            and a demo page at /. Plain HTTP: put a TLS terminator in front for HTTPS tests. State is in memory only.
            Prints "platform-sim listening on http://HOST:PORT" on stdout once listening; logs each request on stderr.

            Examples:
              platform-sim --bridge brg_demo --credentials credentials.json
              platform-sim --port 0 --bridge brg_a:a.json --bridge brg_b:b.json
            """)

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one (see the listening line).")
    var port = 8443

    @Option(
        name: .customLong("bridge"),
        help: ArgumentHelp(
            "A bridge to register: ID:CREDFILE, or ID paired in order with a --credentials FILE. Repeatable.",
            valueName: "id[:credfile]"))
    var bridges: [String] = []

    @Option(
        name: .customLong("credentials"),
        help: ArgumentHelp(
            "A credentials file {\"api_key\",\"signing_secret\"} for the next plain --bridge ID. Repeatable.",
            valueName: "file"))
    var credentials: [String] = []

    @Option(
        name: .customLong("bridges-file"),
        help: ArgumentHelp(
            "JSON {\"bridges\": [{\"id\", \"credentials\": path} | {\"id\", \"api_key\", \"signing_secret\"}]}.",
            valueName: "file"))
    var bridgesFile: String?

    @Flag(help: "Do not log each request on stderr.")
    var quiet = false

    /// Defaults for every option (ArgumentParser fills them in).
    public init() {}

    /// Checks what ArgumentParser cannot: the port range.
    public func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
    }

    /// Registers the bridges and serves until SIGTERM/SIGINT; exit status 2 for bad flags or files, 1 when the
    /// port cannot be bound.
    public func serve() async throws {
        let registrations: [BridgeRegistration]
        do {
            registrations = try LaunchPlan.registrations(
                bridgeFlags: bridges, credentialFlags: credentials, bridgesFile: bridgesFile)
        } catch {
            Self.stderr("platform-sim: \(error.message)")
            throw ExitCode(2)
        }
        if registrations.isEmpty {
            Self.stderr("platform-sim: no bridge registered yet (add one with --bridge or POST /admin/bridges)")
        }
        for r in registrations { Self.stderr("platform-sim: bridge \(r.id) registered") }

        let store = PlatformStore(bridges: registrations)
        let server = PlatformServer(store: store, host: host, port: port, logRequests: !quiet)
        let host = self.host
        do {
            try await server.run(shutdownSignals: [.sigterm, .sigint]) { port in
                let line = "platform-sim listening on \(LaunchPlan.baseURL(host: host, port: port))\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            }
        } catch {
            Self.stderr("platform-sim: cannot serve on \(host):\(port): \(error)")
            throw ExitCode(1)
        }
        Self.stderr("platform-sim: stopped")
    }

    static func stderr(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

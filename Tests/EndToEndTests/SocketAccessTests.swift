import Foundation
import Glibc
import Testing

/// A user who may not use the control socket is told so, and how to fix it: not "no agent, start one".
@Suite struct SocketAccessTests {
    /// How to run the tool so that connecting to the agent's socket fails with EACCES: as root, as the
    /// unprivileged user `nobody` (root is never refused); otherwise with the socket's mode taken away
    /// from its owner, which is then this user.
    func deniedWrapper(_ sandbox: Sandbox) throws -> [String] {
        guard getuid() == 0 else {
            guard chmod(sandbox.socket, 0) == 0 else { throw E2EFailure("chmod 0 \(sandbox.socket): \(String(cString: strerror(errno)))") }
            return []
        }
        let setpriv = "/usr/bin/setpriv"
        guard FileManager.default.isExecutableFile(atPath: setpriv) else {
            throw E2EFailure("this test runs as root and needs \(setpriv) (util-linux) to run the tool as nobody")
        }
        // The sandbox is made 0700; nobody must reach the socket itself, so that the socket's own mode refuses.
        guard chmod(sandbox.root, 0o755) == 0 else { throw E2EFailure("chmod 755 \(sandbox.root)") }
        return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    }

    @Test func permissionDeniedSaysAnAgentIsLikelyRunningAndHowToGetIn() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir))
        defer { agent.stop() }
        try agent.start()
        let wrapper = try deniedWrapper(sandbox)

        for command in [["status"], ["relay", "on", "siren"], ["events"], ["inputs", "--watch"]] {
            let r = try Tool.run(command + ["--socket", sandbox.socket], cwd: "/", wrapper: wrapper)
            #expect(r.status == 2 && !r.signalled, "\(r)")
            #expect(r.stderr.contains("permission denied on \(sandbox.socket)"), "\(r)")
            #expect(r.stderr.contains("an agent is likely running"), "\(r)")
            #expect(r.stderr.contains("sudo"), "the message does not say how to get in: \(r)")
            #expect(!r.stderr.contains("no agent is answering") && !r.stderr.contains("Start one"), "\(r)")
        }

        let doctor = try Tool.run(["doctor", "--config", agent.config, "--socket", sandbox.socket], cwd: "/", wrapper: wrapper)
        // The line of the check named "agent" (its name starts at column 6, after the padded level): the state folder's
        // line may say "the agent: " too.
        let line = doctor.stdout.split(separator: "\n").first { $0.dropFirst(6).hasPrefix("agent: ") }.map(String.init) ?? ""
        #expect(line.hasPrefix("FAIL") && line.contains("permission denied on \(sandbox.socket)"), "\(doctor)")
        #expect(line.contains("an agent is likely running") && line.contains("sudo"), "\(doctor)")
        #expect(!doctor.stdout.contains("none answering"), "\(doctor)")
        #expect(agent.isRunning)
    }
}

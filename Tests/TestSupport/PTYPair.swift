import Foundation
import Glibc

/// A socat PTY pair (`pty,raw,echo=0` both ends) linked as `folder/agent` and `folder/server` (the folder is made):
/// a serial line for an RTU peer on this machine. Fails with what to install when socat is missing or makes no pair
/// within 5 s.
public struct PTYPair {
    private let socat: Process
    public let agentEnd: String
    public let serverEnd: String

    public init(folder: String) throws {
        agentEnd = folder + "/agent"
        serverEnd = folder + "/server"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        socat = Process()
        socat.executableURL = URL(fileURLWithPath: "/usr/bin/socat")
        socat.arguments = ["pty,raw,echo=0,link=\(agentEnd)", "pty,raw,echo=0,link=\(serverEnd)"]
        socat.standardInput = FileHandle.nullDevice
        do { try socat.run() } catch {
            throw TestSupportFailure("cannot start /usr/bin/socat for an RTU line (\(error)): Tools/setup installs socat")
        }
        let fm = FileManager.default
        let (agentEnd, serverEnd) = (agentEnd, serverEnd)
        guard pollUntil(timeout: 5, { fm.fileExists(atPath: agentEnd) && fm.fileExists(atPath: serverEnd) ? true : nil }) != nil else {
            kill()
            throw TestSupportFailure("socat did not make the PTY pair within 5 s (Tools/setup installs socat)")
        }
    }

    /// SIGKILL and reap. (SIGTERM is not enough: a child started from a test's thread inherits its blocked signals.)
    public func kill() {
        Glibc.kill(socat.processIdentifier, SIGKILL)
        socat.waitUntilExit()
    }
}

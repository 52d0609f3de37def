import Foundation
import Glibc
import Testing

/// The state folder's filesystem full, then freed; read-only, then writable again (issue 13, "Disk trouble"):
/// the agent keeps driving relays and supervising, says what is wrong in `status` and the log, loses nothing it
/// had acknowledged, leaves no gap in `seq`, and recovers by itself.
///
/// The filesystem is a real tmpfs with a size limit, mounted in a private mount namespace (of a user namespace:
/// no root needed), which the agent and the test reach through `/proc/<pid>/root` of the process holding it.
@Suite(.serialized) struct DiskTroubleTests {
    @Test func aFullDiskLosesNothingKeepsRelaysSafeAndRecoversByItself() throws {
        let fs = try SmallFilesystem(sizeKB: 4096)
        defer { fs.close() }
        let agent = try Self.agent(stateOn: fs)
        defer { agent.stop() }
        try agent.start()
        let before = try agent.events()

        // A pulse started before the disk fills must still end on time.
        try agent.ok("relay", "pulse", "door_strike", "--ms", "2000")
        let pulsedAt = Date()
        let filled = try fs.fill()
        #expect(filled > 0, "nothing could be written to fill the filesystem")

        // Settled changes (each waits out the debounce) until an append fails: the journal's last page may still
        // take a few records.
        var toggles = 0
        var refused: JSON?
        // When a status poll first shows door_strike off: the loop below may outlast the pulse (it did under
        // AddressSanitizer: Tools/sanitize/run), so the release is timed where it is seen, not after the loop.
        var releasedAt: Date?
        while refused == nil && toggles < 200 {
            toggles += 1
            let active = toggles % 2 == 1
            try agent.ok("sim", "input", "in4", active ? "active" : "inactive")
            let storage = try agent.waitFor("back_window to settle \(active ? "faulted" : "normal")") { () throws -> JSON? in
                let status = try agent.status()
                if releasedAt == nil && status.entry("relays", "door_strike")?["on"] == false { releasedAt = Date() }
                return status.entry("zones", "back_window")?["state"] == (active ? "faulted" : "normal") ? status["storage"] : nil
            }
            if storage["ok"] == false && storage["journal_problem"] != nil { refused = storage }
        }
        let trouble = try #require(refused, "\(toggles) changes on a full disk and every append succeeded\n\(agent.logTail)")
        #expect(trouble["journal_problem"]?.string?.contains("No space left on device") == true, "\(trouble)")
        #expect((trouble["unrecorded_events"]?.int ?? 0) >= 1, "\(trouble)")
        let plain = try agent.ok("status")
        #expect(plain.stdout.contains("storage: events cannot be recorded since"), "\(plain)")
        // Logged when the trouble starts, not at every retry: each change retried the append.
        let logged = agent.log.components(separatedBy: "cannot record").count - 1
        #expect(logged == 1, "\(logged) 'cannot record' lines for one trouble\n\(agent.logTail)")

        // Relays stay safe: the pulse ends at its time although its release cannot be recorded yet.
        let released = try agent.waitFor("door_strike to be released at the end of its pulse", timeout: 10) { () throws -> Bool? in
            try agent.status().entry("relays", "door_strike")?["on"] == false ? true : nil
        }
        #expect(released == true)
        let seenOff = releasedAt ?? Date()
        // A bound, not a figure: before the fix, each status poll put the release off by another second, for as
        // long as the polling went on (20 s here).
        #expect(seenOff.timeIntervalSince(pulsedAt) < 8, "the pulse of 2 s ended late")
        // Supervision goes on: the last input change is seen, its zone state is current.
        try agent.ok("sim", "input", "in4", "active")
        _ = try agent.waitFor("back_window faulted in status") { () throws -> Bool? in
            try agent.status().entry("zones", "back_window")?["state"] == "faulted" ? true : nil
        }

        // Space returns: everything that waited is recorded, in order, without a gap, by the agent itself.
        try fs.free()
        _ = try agent.waitFor("status to report the storage fine again", timeout: 10) { () throws -> Bool? in
            try agent.status()["storage"]?["ok"] == true ? true : nil
        }
        #expect(agent.log.contains("the journal takes writes again"), agent.note)
        let after = try agent.events()
        #expect(Array(after.prefix(before.count)) == before, "events recorded before the disk filled changed\n\(after.listing)")
        #expect(after.map(\.seq) == (1...Int64(after.count)).map { $0 }, "seq has a gap or a repeat: \(after.map(\.seq))")
        let releases = after.of("relay.deactivated").filter { $0.data["relay"] == "door_strike" }
        #expect(releases.map { $0.data["reason"] } == ["pulse_elapsed"], "\(after.listing)")
        let window = after.filter { $0.data["zone"] == "back_window" }.map(\.type)
        #expect(window.last == "zone.faulted", "\(after.listing)")
        #expect(window.count >= toggles, "\(toggles) input changes, \(window.count) back_window events:\n\(after.listing)")
    }

    /// A state folder that turns read-only under a running agent (a read-only bind mount over it: a remount of
    /// the filesystem itself is refused while the journal is open for writing). The journal's open file still
    /// takes appends; every new file is refused: the snapshot cannot be saved, status and the log say so, and it
    /// is saved again once the folder is writable.
    @Test func aStateFolderTurnedReadOnlyIsReportedAndWritesResumeWhenItIsWritableAgain() throws {
        let fs = try SmallFilesystem(sizeKB: 8192)
        defer { fs.close() }
        let agent = try Self.agent(stateOn: fs)
        defer { agent.stop() }
        try agent.start()
        let before = try agent.events()

        let state = fs.mountPoint + "/state"
        try fs.inside("mount --bind \(state) \(state) && mount -o remount,bind,ro \(state)")
        try agent.ok("sim", "input", "in4", "active")
        let trouble = try agent.waitFor("status to report the snapshot unsaved") { () throws -> JSON? in
            let storage = try agent.status()["storage"]
            return storage?["ok"] == false && storage?["snapshot_problem"] != nil ? storage : nil
        }
        #expect(trouble["snapshot_problem"]?.string?.contains("Read-only file system") == true, "\(trouble)")
        let plain = try agent.ok("status")
        #expect(plain.stdout.contains("storage: the state snapshot cannot be saved since"), "\(plain)")
        #expect(agent.log.contains("cannot save the state snapshot, will retry"), agent.note)

        try fs.inside("umount \(state)")
        _ = try agent.waitFor("status to report the storage fine again", timeout: 10) { () throws -> Bool? in
            try agent.status()["storage"]?["ok"] == true ? true : nil
        }
        #expect(agent.log.contains("the state snapshot is saved again"), agent.note)
        let after = try agent.events()
        #expect(Array(after.prefix(before.count)) == before)
        #expect(after.map(\.seq) == (1...Int64(after.count)).map { $0 }, "seq has a gap or a repeat: \(after.map(\.seq))")
        #expect(after.dropFirst(before.count).map(\.type) == ["zone.faulted"], "\(after.listing)")

        // A restart reads the snapshot saved late (its check passes) and keeps every event.
        #expect(agent.stop()?.result.status == 0)
        let restarted = try agent.start()
        #expect(restarted["storage"]?["ok"] == true, "\(restarted)")
        #expect(!agent.log.contains("state snapshot unusable"), agent.note)
        #expect(Array(try agent.events().prefix(after.count)) == after)
    }

    /// The standard site's agent with its state folder on `fs`.
    static func agent(stateOn fs: SmallFilesystem) throws -> Agent {
        try Agent(try Sandbox(), config: Fixture.config(board: try Repo.board(), stateDir: fs.path + "/state"))
    }

    /// Started on a read-only filesystem, the agent refuses to run (exit 2) and names the folder and the cause:
    /// it could record nothing, so it must not pretend to supervise.
    @Test func anAgentStartedOnAReadOnlyFilesystemSaysSoAndExitsTwo() throws {
        let fs = try SmallFilesystem(sizeKB: 1024)
        defer { fs.close() }
        try fs.inside("mount -o remount,ro \(fs.mountPoint)")
        let agent = try Self.agent(stateOn: fs)
        let run = try agent.launch()
        let ended = try #require(run.wait(timeout: 10), "the agent kept running on a read-only state folder")
        #expect(ended.status == 2, "\(ended)")
        #expect(agent.log.contains("cannot open the state folder \(fs.path)/state"), agent.note)
        #expect(agent.log.contains("Read-only file system"), agent.note)
    }
}

/// A tmpfs of `sizeKB` that only this test sees: `unshare --user --map-root-user --mount` (`--mount` alone as
/// root) mounts it in a private mount namespace, and a shell there waits for commands (`inside`). Everything
/// outside reaches it as `path`, `/proc/<pid>/root<mountPoint>`: the agent's state folder, the filler file.
final class SmallFilesystem {
    let process = Process()
    let mountPoint: String
    private let commands = Pipe()
    private let replies = Pipe()
    private let errors = Pipe()

    var path: String { "/proc/\(process.processIdentifier)/root" + mountPoint }
    private var filler: String { path + "/filler" }

    init(sizeKB: Int) throws {
        var template = Array("/tmp/chekt-e2e-fs-XXXXXX".utf8CString)
        mountPoint = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        let script = #"mount -t tmpfs -o size="$2" tmpfs "$1" || exit 1; echo ready; while read -r cmd; do sh -c "$cmd" 1>&2; echo "done $?"; done"#
        // Root needs no user namespace (and cannot make one in a chroot, where Tools/trixie/check runs the suite).
        let namespaces = getuid() == 0 ? ["--mount"] : ["--user", "--map-root-user", "--mount"]
        process.arguments = namespaces + ["sh", "-c", script, "sh", mountPoint, "\(sizeKB)k"]
        process.standardInput = commands
        process.standardOutput = replies
        process.standardError = errors
        try process.run()
        guard readLine() == "ready" else {
            process.waitUntilExit()
            let why = String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
            let command = "unshare " + namespaces.joined(separator: " ")
            throw E2EFailure("""
                cannot mount a size-limited tmpfs in a private mount namespace (\(command)): \
                \(why.isEmpty ? "exit \(process.terminationStatus)" : why). The disk tests need it: as root, a / \
                that is a mount point (in a chroot, bind-mount the chroot onto itself); otherwise user namespaces \
                (sysctl user.max_user_namespaces > 0; kernel.apparmor_restrict_unprivileged_userns=0 where \
                AppArmor restricts them).
                """)
        }
    }

    /// Runs `command` with `sh -c` inside the namespace (where the mount is), as its root.
    func inside(_ command: String) throws {
        commands.fileHandleForWriting.write(Data((command + "\n").utf8))
        guard let reply = readLine(), reply == "done 0" else {
            throw E2EFailure("`\(command)` failed in the test's mount namespace")
        }
    }

    /// Writes a file until the filesystem is full (ENOSPC); the bytes written.
    func fill() throws -> Int {
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw E2EFailure("cannot create \(filler): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        let chunk = [UInt8](repeating: 0xA5, count: 4096)
        var total = 0
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { total += n; continue }
            guard n < 0 && errno == ENOSPC else { throw E2EFailure("filling \(filler): \(String(cString: strerror(errno)))") }
            return total
        }
    }

    func free() throws {
        guard unlink(filler) == 0 else { throw E2EFailure("cannot remove \(filler): \(String(cString: strerror(errno)))") }
    }

    func close() {
        try? commands.fileHandleForWriting.close()
        process.waitUntilExit()
        rmdir(mountPoint)
    }

    /// One line of the shell's standard output, without its newline; nil at its end.
    private func readLine() -> String? {
        var bytes: [UInt8] = []
        let fd = replies.fileHandleForReading.fileDescriptor
        var byte: UInt8 = 0
        while Glibc.read(fd, &byte, 1) == 1 {
            if byte == 10 { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }
}

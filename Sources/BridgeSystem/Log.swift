import Glibc

/// The agent's log: one line per entry on stderr, written with one `write(2)` (never buffered; journald adds the time).
///
/// When stderr is the journal (`$JOURNAL_STREAM` names stderr's device and inode, as systemd sets it for a
/// service), each line starts with its syslog priority (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug), which
/// journald stores as the entry's priority and strips; anywhere else lines are plain text. Entries below `level`
/// are not written. Secrets never reach the log: callers log names and reasons, never credentials or signatures.
public enum Log {
    public enum Level: Int, Sendable, Comparable, CaseIterable {
        case error = 3, warning = 4, info = 6, debug = 7
        public var name: String {
            switch self { case .error: "error"; case .warning: "warning"; case .info: "info"; case .debug: "debug" }
        }
        public init?(name: String) {
            guard let level = Self.allCases.first(where: { $0.name == name }) else { return nil }
            self = level
        }
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// Off only where a process hosts an agent in-process and prints its own figures (the benchmark).
    nonisolated(unsafe) public static var enabled = true
    /// The least severe level written (`run --log-level`); `info` by default.
    nonisolated(unsafe) public static var level: Level = .info
    /// Whether lines carry syslog priority prefixes: decided once, from `$JOURNAL_STREAM` and stderr.
    nonisolated(unsafe) public static var prefixed: Bool = stderrIsJournal()

    public static func debug(_ message: String) { line(.debug, message) }
    public static func info(_ message: String) { line(.info, message) }
    public static func warning(_ message: String) { line(.warning, "warning: " + message) }
    public static func error(_ message: String) { line(.error, "error: " + message) }

    /// The line as written for `level`: a message of several lines gets the prefix on each, so journald files every
    /// line at the entry's priority.
    public static func formatted(_ level: Level, _ text: String, prefixed: Bool) -> String {
        guard prefixed else { return text + "\n" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { "<\(level.rawValue)>" + $0 + "\n" }.joined()
    }

    private static func line(_ severity: Level, _ text: String) {
        guard enabled, severity <= level else { return }
        Posix.writeAll(2, Array(formatted(severity, text, prefixed: prefixed).utf8))
    }

    /// systemd sets `JOURNAL_STREAM=DEV:INODE` for a service whose output goes to the journal; it is stderr's only
    /// if stderr still has that device and inode (a child started from the service with stderr elsewhere does not).
    public static func stderrIsJournal(_ value: String? = getenv("JOURNAL_STREAM").map { String(cString: $0) }) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }
}

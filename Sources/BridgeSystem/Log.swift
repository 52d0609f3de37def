import Glibc

/// The agent's log: one line per entry on stderr, written with one `write(2)` (never buffered; journald adds the time).
public enum Log {
    /// Off only where a process hosts an agent in-process and prints its own figures (the benchmark).
    nonisolated(unsafe) public static var enabled = true

    public static func info(_ message: String) { line(message) }
    public static func warning(_ message: String) { line("warning: " + message) }
    public static func error(_ message: String) { line("error: " + message) }

    private static func line(_ text: String) {
        guard enabled else { return }
        Posix.writeAll(2, Array((text + "\n").utf8))
    }
}

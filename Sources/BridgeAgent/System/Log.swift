import Glibc

/// The agent's log: one line per entry on stderr, written with one `write(2)` (never buffered; journald adds the time).
public enum Log {
    public static func info(_ message: String) { line(message) }
    public static func warning(_ message: String) { line("warning: " + message) }
    public static func error(_ message: String) { line("error: " + message) }

    private static func line(_ text: String) {
        Posix.writeAll(2, Array((text + "\n").utf8))
    }
}

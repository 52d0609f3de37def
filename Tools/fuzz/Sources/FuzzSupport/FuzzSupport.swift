#if canImport(Glibc)
import Glibc
#endif

/// What every fuzz target needs: the input as bytes, ways to cut it into the parts a reader takes, and a property
/// check that stops the run (so libFuzzer keeps the input as a crash artifact) when something that must hold fails.
public enum Fuzz {
    /// libFuzzer's buffer as an array (libFuzzer may pass a null pointer with size 0).
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Bytes as text the way the agent makes text from the network and files: invalid UTF-8 becomes U+FFFD.
    public static func text(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes before the first `separator` and those after it (nil when there is none).
    public static func split(_ bytes: [UInt8], at separator: UInt8) -> (head: [UInt8], tail: [UInt8]?) {
        guard let i = bytes.firstIndex(of: separator) else { return (bytes, nil) }
        return (Array(bytes[..<i]), Array(bytes[(i + 1)...]))
    }

    /// Up to `limit` parts separated by `separator` (a multi-byte token); the last part keeps any further tokens.
    public static func parts(_ bytes: [UInt8], separator: [UInt8], limit: Int) -> [[UInt8]] {
        precondition(!separator.isEmpty && limit >= 1)
        var out: [[UInt8]] = []
        var start = 0
        var i = 0
        while out.count < limit - 1, i + separator.count <= bytes.count {
            if bytes[i..<(i + separator.count)].elementsEqual(separator) {
                out.append(Array(bytes[start..<i]))
                i += separator.count
                start = i
            } else {
                i += 1
            }
        }
        out.append(Array(bytes[start...]))
        return out
    }

    /// Reads a little-endian integer from up to 8 bytes at `offset` (missing bytes count as 0).
    public static func int64(_ bytes: [UInt8], at offset: Int) -> Int64 {
        var v: UInt64 = 0
        for k in 0..<8 where offset + k < bytes.count { v |= UInt64(bytes[offset + k]) << (8 * UInt64(k)) }
        return Int64(bitPattern: v)
    }

    /// Stops the run with `message` when `condition` is false: a property of the reader does not hold.
    ///
    /// Prints to stderr and calls `abort()`; libFuzzer reports a deadly signal and writes the input as a
    /// crash artifact, exactly as for a trap.
    public static func require(_ condition: Bool, _ message: @autoclosure () -> String,
                               file: StaticString = #fileID, line: UInt = #line) {
        if condition { return }
        printError("\nproperty failed at \(file):\(line): \(message())")
        abort()
    }

    /// Writes a line to stderr (fd 2: `stderr` the C global is not concurrency-safe to name in Swift 6).
    public static func printError(_ line: String) {
        var bytes = Array((line + "\n").utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }

    /// A readable form of `text` for property messages: quoted, with control and non-ASCII characters escaped.
    public static func quote(_ text: String) -> String {
        var out = "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case " "..."~": out.unicodeScalars.append(u)
            default: out += "\\u{" + String(u.value, radix: 16) + "}"
            }
        }
        return out + "\""
    }
}

import Foundation
import Testing

/// docs/troubleshooting.md explains every error and warning the agent logs.
///
/// This is the point of the suite: whoever adds a `Log.error("...")` or `Log.warning("...")` with new words to
/// anything under Sources/ makes `everyLoggedErrorAndWarningIsInTheGuide` fail until the guide says what the
/// message means and what to do, so a technician never meets a message the guide does not have.
///
/// What is checked of each call is its message's fixed text: the first string literal of the call (the first of
/// a `"..." + "..."` concatenation), unescaped, up to its first `\(` interpolation, trimmed. Skipped, because
/// such text says nothing a reader could look up:
/// - a fixed text shorter than 12 characters, or with no letter or digit;
/// - a call whose first argument is not a string literal (a variable or an expression).
///
/// Skipped as of this writing (the guide covers each all the same, by the text around the interpolations):
/// - too short or empty: `relay \(id): its output could not be switched on...` (Runtime.swift),
///   `output \(output): ...` (Runtime.swift, twice in ModbusBus.swift), `\(args.configPath): \(e)`
///   (Launcher.swift), `journal: \(problem)` (Launcher.swift), `gpio chip \(spec.id): ...` (twice,
///   GPIOChipLink.swift), `bus \(spec.id): ...` (ModbusBus.swift), `\(error): starting without a command cursor`,
///   `upstream: \(message)`, `upstream: \(what) answered 401: ...` (Uplink.swift),
///   `upstream: \(poll.unreadable) command(s) ...`, `upstream: \(n) more command id(s) ...` (Uplink+Commands.swift);
/// - not a literal: `Log.error(message)` (the state folder's `cannot open the state folder ...`) and
///   `Log.error(error.description)` (the control socket's start errors) in Launcher.swift, `Log.warning(note)` (the
///   RS-485 mode note) in ModbusBus.swift, `Log.warning(problem)` (ledger and dead-letter findings) in Uplink.swift
///   and Uplink+Commands.swift.
@Suite struct TroubleshootingGuideTests {
    static let minimumFixedLength = 12

    @Test func everyLoggedErrorAndWarningIsInTheGuide() throws {
        let guidePath = Repo.root + "/docs/troubleshooting.md"
        let guide = Self.normalised(try String(contentsOfFile: guidePath, encoding: .utf8))
        let sources = Self.swiftFiles(under: Repo.root + "/Sources")
        try #require(!sources.isEmpty, "no Swift files under \(Repo.root)/Sources")

        var checked = 0
        var missing: [String] = []
        for path in sources {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let relative = String(path.dropFirst(Repo.root.count + 1))
            for call in LogCallScanner.calls(in: text) {
                guard let fixed = call.fixedText, Self.isCheckable(fixed) else { continue }
                checked += 1
                if !guide.contains(Self.normalised(fixed)) {
                    missing.append("\(relative):\(call.line): Log.\(call.level): \(fixed)")
                }
            }
        }
        // Sources/ has dozens of such calls: none found means the scanner, not the sources, is broken.
        try #require(checked >= 10, "only \(checked) Log.error/Log.warning messages found under Sources/")
        #expect(missing.isEmpty, """
            docs/troubleshooting.md does not have \(missing.count) of the \(checked) logged messages. \
            Add each (its fixed text, what it means, what to do) to the guide:
            \(missing.joined(separator: "\n"))
            """)
    }

    /// The scanner on source written the ways Swift allows: comments, strings holding `//` or a call's text,
    /// a call split over lines, escapes, interpolations holding strings, concatenation, raw and multi-line literals.
    @Test func theScannerReadsLogCallsAsSwiftWritesThem() {
        let source = ##"""
            // Log.error("in a line comment: never a call")
            /* Log.warning("in a block comment /* nested */ still a comment") */
            let url = "https://example.invalid/v1" // a string holding // is no comment
            let text = "Log.error(\"inside a string literal\")"
            Log.error("cannot open the thing: \(error)")
            Log.warning(
                "on the next line, with \"quotes\", a \\ and a tab\t\(flag ? "on" : "off") ignored after")
            Log.error("first literal of a concatenation, " + (changed ? "a" : "b")
                      + " second literal")
            Log.warning(message)
            Log.error("short \(x)")
            Log.warning("\(error): nothing fixed")
            Log.error(#"a raw literal with a "quote" \#(x) ignored"#)
            Log.warning("""
                a multi-line literal \(x)
                """)
            MyLog.error("not the agent's Log")
            Log.errorCount += 1
            """##
        let calls = LogCallScanner.calls(in: source)
        #expect(calls.map(\.level) == ["error", "warning", "error", "warning", "error", "warning", "error", "warning"])
        #expect(calls.map(\.line) == [5, 6, 8, 10, 11, 12, 13, 14])
        #expect(calls.map(\.fixedText) == [
            "cannot open the thing:",
            "on the next line, with \"quotes\", a \\ and a tab",
            "first literal of a concatenation,",
            nil,
            "short",
            "",
            "a raw literal with a \"quote\"",
            "a multi-line literal",
        ])
        #expect(calls.compactMap(\.fixedText).filter(Self.isCheckable) == [
            "cannot open the thing:", "on the next line, with \"quotes\", a \\ and a tab",
            "first literal of a concatenation,", "a raw literal with a \"quote\"", "a multi-line literal",
        ])
    }

    /// At least `minimumFixedLength` characters, and a letter or digit among them.
    static func isCheckable(_ fixed: String) -> Bool {
        fixed.count >= minimumFixedLength && fixed.contains { $0.isLetter || $0.isNumber }
    }

    /// Runs of white space as one space: the guide may wrap a message where the source does not.
    static func normalised(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    static func swiftFiles(under folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            if relative.hasSuffix(".swift") { files.append(folder + "/" + relative) }
        }
        return files.sorted()
    }
}

/// The `Log.error(...)` and `Log.warning(...)` calls of a Swift source file, found by a small lexer that knows
/// comments (nested block comments too) and string literals (plain, multi-line, raw, with interpolations that
/// hold strings of their own), so that neither a call written in a comment or a string nor a `//` inside a
/// string ("https://...") misleads it.
enum LogCallScanner {
    struct Call: Equatable {
        /// The line of `Log`, counting from 1.
        var line: Int
        /// `error` or `warning`.
        var level: String
        /// The first string literal of the call's argument, unescaped, up to its first interpolation, trimmed;
        /// nil when the argument does not start with a string literal.
        var fixedText: String?
    }

    static func calls(in source: String) -> [Call] {
        let b = Array(source.utf8)
        var calls: [Call] = []
        var i = 0
        while i < b.count {
            if starts(b, i, "//") {
                while i < b.count && b[i] != newline { i += 1 }
            } else if starts(b, i, "/*") {
                i = skipBlockComment(b, i)
            } else if isStringStart(b, i) {
                i = readString(b, i).end
            } else if let (level, afterParen) = logCall(b, i) {
                let line = b[..<i].reduce(1) { $1 == newline ? $0 + 1 : $0 }
                let first = skipTrivia(b, afterParen)
                let fixed = isStringStart(b, first) ? readString(b, first).fixed : nil
                calls.append(Call(line: line, level: level,
                                  fixedText: fixed?.trimmingCharacters(in: .whitespacesAndNewlines)))
                i = afterParen  // the argument is lexed as usual from here
            } else {
                i += 1
            }
        }
        return calls
    }

    private static let newline = UInt8(ascii: "\n")
    private static let quote = UInt8(ascii: "\"")
    private static let pound = UInt8(ascii: "#")
    private static let backslash = UInt8(ascii: "\\")

    private static func starts(_ b: [UInt8], _ i: Int, _ text: String) -> Bool {
        let t = Array(text.utf8)
        return i + t.count <= b.count && Array(b[i..<(i + t.count)]) == t
    }

    private static func isIdentifierByte(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c >= 0x80
    }

    /// `Log.error(` or `Log.warning(` at `i` (spaces allowed before the parenthesis): the level and the index after it.
    private static func logCall(_ b: [UInt8], _ i: Int) -> (String, Int)? {
        guard i == 0 || !isIdentifierByte(b[i - 1]) else { return nil }
        for level in ["error", "warning"] where starts(b, i, "Log." + level) {
            var j = i + 4 + level.utf8.count
            while j < b.count && (b[j] == 32 || b[j] == 9) { j += 1 }
            if j < b.count && b[j] == UInt8(ascii: "(") { return (level, j + 1) }
        }
        return nil
    }

    /// A string literal starts at `i`: `"`, or `#`s then `"` (a raw string).
    private static func isStringStart(_ b: [UInt8], _ i: Int) -> Bool {
        var j = i
        while j < b.count && b[j] == pound { j += 1 }
        return j < b.count && b[j] == quote
    }

    private static func skipBlockComment(_ b: [UInt8], _ start: Int) -> Int {
        var depth = 0
        var i = start
        while i < b.count {
            if starts(b, i, "/*") { depth += 1; i += 2 }
            else if starts(b, i, "*/") { depth -= 1; i += 2; if depth == 0 { return i } }
            else { i += 1 }
        }
        return i
    }

    /// White space, newlines and comments.
    private static func skipTrivia(_ b: [UInt8], _ start: Int) -> Int {
        var i = start
        while i < b.count {
            if b[i] == 32 || b[i] == 9 || b[i] == 10 || b[i] == 13 { i += 1 }
            else if starts(b, i, "//") { while i < b.count && b[i] != newline { i += 1 } }
            else if starts(b, i, "/*") { i = skipBlockComment(b, i) }
            else { break }
        }
        return i
    }

    /// Reads the string literal at `start`: the index after it, and its text up to the first interpolation,
    /// unescaped.
    private static func readString(_ b: [UInt8], _ start: Int) -> (end: Int, fixed: String) {
        var i = start
        var pounds = 0
        while i < b.count && b[i] == pound { pounds += 1; i += 1 }
        let multiLine = starts(b, i, "\"\"\"")
        i += multiLine ? 3 : 1
        if multiLine {
            // The text starts on the line after the opening delimiter.
            while i < b.count && b[i] != newline { i += 1 }
            i += 1
        }
        var fixed: [UInt8] = []
        var collecting = true
        func text() -> String { String(decoding: fixed, as: UTF8.self) }
        while i < b.count {
            if multiLine ? starts(b, i, "\"\"\"") : b[i] == quote {
                var k = i + (multiLine ? 3 : 1)
                var p = 0
                while p < pounds && k < b.count && b[k] == pound { p += 1; k += 1 }
                if p == pounds { return (k, text()) }
                if collecting { fixed.append(b[i]) }  // a quote inside a raw string
                i += 1
                continue
            }
            if b[i] == backslash {
                var k = i + 1
                var p = 0
                while p < pounds && k < b.count && b[k] == pound { p += 1; k += 1 }
                if p == pounds && k < b.count {
                    if b[k] == UInt8(ascii: "(") {
                        collecting = false
                        i = skipInterpolation(b, k)
                        continue
                    }
                    let (bytes, next) = unescape(b, k)
                    if collecting { fixed += bytes }
                    i = next
                    continue
                }
            }
            if !multiLine && b[i] == newline { return (i, text()) }  // unterminated: stop at the line's end
            if collecting { fixed.append(b[i]) }
            i += 1
        }
        return (i, text())
    }

    /// The escape whose character is at `k` (after the backslash): its bytes and the index after it.
    private static func unescape(_ b: [UInt8], _ k: Int) -> ([UInt8], Int) {
        switch b[k] {
        case UInt8(ascii: "n"): return ([10], k + 1)
        case UInt8(ascii: "t"): return ([9], k + 1)
        case UInt8(ascii: "r"): return ([13], k + 1)
        case UInt8(ascii: "0"): return ([0], k + 1)
        case newline: return ([], k + 1)  // a line continuation in a multi-line literal
        case UInt8(ascii: "u"):
            // \u{1F600}
            guard k + 1 < b.count, b[k + 1] == UInt8(ascii: "{"), let close = b[(k + 1)...].firstIndex(of: UInt8(ascii: "}")),
                  let value = UInt32(String(decoding: b[(k + 2)..<close], as: UTF8.self), radix: 16),
                  let scalar = Unicode.Scalar(value)
            else { return ([b[k]], k + 1) }
            return (Array(String(Character(scalar)).utf8), close + 1)
        default: return ([b[k]], k + 1)  // \" \\ \'
        }
    }

    /// Skips `( ... )` of an interpolation at `open`, with its nested parentheses and strings.
    private static func skipInterpolation(_ b: [UInt8], _ open: Int) -> Int {
        var depth = 0
        var i = open
        while i < b.count {
            if isStringStart(b, i) { i = readString(b, i).end; continue }
            if b[i] == UInt8(ascii: "(") { depth += 1 }
            if b[i] == UInt8(ascii: ")") {
                depth -= 1
                if depth == 0 { return i + 1 }
            }
            i += 1
        }
        return i
    }
}

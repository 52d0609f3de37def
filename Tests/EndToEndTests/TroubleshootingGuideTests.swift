import Foundation
import Testing

/// docs/troubleshooting.md explains every error and warning the agent logs.
///
/// This is the point of the suite: whoever adds a `Log.error("...")` or `Log.warning("...")` with new words to
/// anything under Sources/ makes `everyLoggedErrorAndWarningIsInTheGuide` fail until the guide says what the
/// message means and what to do, so a technician never meets a message the guide does not have.
///
/// What is checked of each call is every fixed piece of its message: each string literal of the call's argument
/// (all of a `"..." + "..."` concatenation), unescaped, cut at its `\(...)` interpolations, each piece trimmed of
/// spaces and punctuation at its ends; a piece with fewer than 4 letters (`": "`, `"#"`) says nothing a reader
/// could look up and is skipped. The guide writes the interpolated parts as `<placeholders>`, so the pieces are
/// looked up one by one.
///
/// A call whose message is not written at the call (`Log.warning(problem)`) must be listed in `producedElsewhere`
/// with where its words are written; those places (`problems.append(...)` of the state folder's readers, the
/// control socket's `StartError(description: ...)`) are checked the same way.
@Suite struct TroubleshootingGuideTests {
    static let minimumLetters = 4

    /// The calls whose message is made elsewhere, by file and argument, with the places that make it.
    static let producedElsewhere: [String: String] = [
        "Sources/BridgeAgent/Runtime/Launcher.swift: error.description":
            "the control socket's StartError(description:) in ControlServer.swift",
        "Sources/BridgeUplink/Uplink.swift: problem":
            "problems.append( of the command ledger and dead letters (Sources/BridgeStore)",
        "Sources/BridgeUplink/Uplink+Commands.swift: problem": "problems.append( of the command ledger's compaction",
    ]

    /// Where the messages of `producedElsewhere` are written: the files under a folder, and the call that writes one.
    static let producers: [(folder: String, opening: String)] = [
        ("Sources/BridgeAgent/Control", "StartError(description:"),
        ("Sources/BridgeStore", "problems.append("),
        ("Sources/BridgeStore", "notes.append("),
        ("Sources/BridgeStore", "lines.append("),
    ]

    @Test func everyLoggedErrorAndWarningIsInTheGuide() throws {
        let guidePath = Repo.root + "/docs/troubleshooting.md"
        let guide = Self.normalised(try String(contentsOfFile: guidePath, encoding: .utf8))
        let sources = Self.swiftFiles(under: Repo.root + "/Sources")
        try #require(!sources.isEmpty, "no Swift files under \(Repo.root)/Sources")

        var checked = 0
        var missing: [String] = []
        var unlisted: [String] = []
        var listedSeen: Set<String> = []
        func check(_ call: LogCallScanner.Call, in relative: String) {
            for piece in call.pieces where Self.isCheckable(piece) {
                checked += 1
                if !guide.contains(Self.normalised(piece)) {
                    missing.append("\(relative):\(call.line): \(call.level): \(piece)")
                }
            }
        }
        for path in sources {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let relative = String(path.dropFirst(Repo.root.count + 1))
            for call in LogCallScanner.calls(in: text) {
                if call.fixedText == nil {
                    let key = "\(relative): \(call.argument)"
                    if Self.producedElsewhere[key] == nil { unlisted.append("\(relative):\(call.line): Log.\(call.level)(\(call.argument))") }
                    listedSeen.insert(key)
                }
                check(call, in: relative)
            }
            for producer in Self.producers where relative.hasPrefix(producer.folder + "/") {
                for call in LogCallScanner.calls(in: text, openings: [(producer.opening, producer.opening)]) {
                    check(call, in: relative)
                }
            }
        }
        // Sources/ has dozens of such messages: few found means the scanner, not the sources, is broken.
        try #require(checked >= 60, "only \(checked) fixed pieces of logged messages found under Sources/")
        #expect(unlisted.isEmpty, """
            these calls log a message made elsewhere: write the message at the call, or add the call to \
            producedElsewhere with the places that make its words:
            \(unlisted.joined(separator: "\n"))
            """)
        let stale = Set(Self.producedElsewhere.keys).subtracting(listedSeen)
        #expect(stale.isEmpty, "producedElsewhere lists calls that no longer exist: \(stale.sorted())")
        #expect(missing.isEmpty, """
            docs/troubleshooting.md does not have \(missing.count) of the \(checked) fixed pieces of logged messages. \
            Add each message (its words, what it means, what to do) to the guide:
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
        #expect(calls.map(\.pieces) == [
            ["cannot open the thing"],
            ["on the next line, with \"quotes\", a \\ and a tab", "ignored after"],
            ["first literal of a concatenation", "a", "b", "second literal"],
            [],
            ["short"],
            ["nothing fixed"],
            ["a raw literal with a \"quote", "ignored"],
            ["a multi-line literal"],
        ])
        #expect(calls[3].argument == "message")
        #expect(calls.flatMap(\.pieces).filter(Self.isCheckable) == [
            "cannot open the thing", "on the next line, with \"quotes\", a \\ and a tab", "ignored after",
            "first literal of a concatenation", "second literal", "short", "nothing fixed",
            "a raw literal with a \"quote", "ignored", "a multi-line literal",
        ])
        // Another opening, with a labelled argument: the places that make a message logged elsewhere.
        let thrown = LogCallScanner.calls(in: #"throw StartError(description: "\(path) is taken; stop it")"#,
                                          openings: [("start", "StartError(description:")])
        #expect(thrown.map(\.pieces) == [["is taken; stop it"]])
    }

    /// At least `minimumLetters` letters.
    static func isCheckable(_ piece: String) -> Bool {
        piece.filter(\.isLetter).count >= minimumLetters
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
        /// The line of the call, counting from 1.
        var line: Int
        /// `error` or `warning` (or the name a caller gave its opening).
        var level: String
        /// The first string literal of the call's argument, unescaped, up to its first interpolation, trimmed;
        /// nil when the argument does not start with a string literal.
        var fixedText: String?
        /// Every string literal of the argument (outside interpolations), cut at its interpolations, each piece
        /// unescaped and trimmed of white space and punctuation at its ends; empty pieces left out.
        var pieces: [String]
        /// The argument's source text up to its first space, comma or parenthesis: `message`, `error.description`.
        var argument: String
    }

    static let logOpenings = [("error", "Log.error("), ("warning", "Log.warning(")]

    /// The calls that start with one of `openings` (its name, and its text up to and with the argument's
    /// opening: `Log.error(`, `StartError(description:`).
    static func calls(in source: String, openings: [(String, String)] = logOpenings) -> [Call] {
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
            } else if let (level, afterOpening) = opening(b, i, openings) {
                let line = b[..<i].reduce(1) { $1 == newline ? $0 + 1 : $0 }
                let first = skipTrivia(b, afterOpening)
                let fixed = isStringStart(b, first) ? readString(b, first).pieces.first : nil
                var end = first
                while end < b.count, !" ,()\n".utf8.contains(b[end]) { end += 1 }
                calls.append(Call(line: line, level: level,
                                  fixedText: fixed?.trimmingCharacters(in: .whitespacesAndNewlines),
                                  pieces: argumentPieces(b, afterOpening),
                                  argument: String(decoding: b[first..<end], as: UTF8.self)))
                i = afterOpening  // the argument is lexed as usual from here
            } else {
                i += 1
            }
        }
        return calls
    }

    /// The literal pieces of the argument list that starts at `start` (after its opening parenthesis), to its
    /// closing parenthesis.
    private static func argumentPieces(_ b: [UInt8], _ start: Int) -> [String] {
        var pieces: [String] = []
        var depth = 1
        var i = start
        let ends = CharacterSet.whitespacesAndNewlines.union(.punctuationCharacters)
        while i < b.count && depth > 0 {
            if starts(b, i, "//") { while i < b.count && b[i] != newline { i += 1 }; continue }
            if starts(b, i, "/*") { i = skipBlockComment(b, i); continue }
            if isStringStart(b, i) {
                let string = readString(b, i)
                pieces += string.pieces.map { $0.trimmingCharacters(in: ends) }.filter { !$0.isEmpty }
                i = string.end
                continue
            }
            if b[i] == UInt8(ascii: "(") { depth += 1 }
            if b[i] == UInt8(ascii: ")") { depth -= 1 }
            i += 1
        }
        return pieces
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

    /// One of `openings` at `i`, not inside a longer identifier: its name and the index after it.
    private static func opening(_ b: [UInt8], _ i: Int, _ openings: [(String, String)]) -> (String, Int)? {
        guard i == 0 || !isIdentifierByte(b[i - 1]) else { return nil }
        for (name, text) in openings where starts(b, i, text) { return (name, i + text.utf8.count) }
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

    /// Reads the string literal at `start`: the index after it, and its text cut at its interpolations, unescaped.
    private static func readString(_ b: [UInt8], _ start: Int) -> (end: Int, pieces: [String]) {
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
        var pieces: [String] = []
        var piece: [UInt8] = []
        func text() -> [String] { pieces + [String(decoding: piece, as: UTF8.self)] }
        while i < b.count {
            if multiLine ? starts(b, i, "\"\"\"") : b[i] == quote {
                var k = i + (multiLine ? 3 : 1)
                var p = 0
                while p < pounds && k < b.count && b[k] == pound { p += 1; k += 1 }
                if p == pounds { return (k, text()) }
                piece.append(b[i])  // a quote inside a raw string
                i += 1
                continue
            }
            if b[i] == backslash {
                var k = i + 1
                var p = 0
                while p < pounds && k < b.count && b[k] == pound { p += 1; k += 1 }
                if p == pounds && k < b.count {
                    if b[k] == UInt8(ascii: "(") {
                        pieces.append(String(decoding: piece, as: UTF8.self))
                        piece = []
                        i = skipInterpolation(b, k)
                        continue
                    }
                    let (bytes, next) = unescape(b, k)
                    piece += bytes
                    i = next
                    continue
                }
            }
            if !multiLine && b[i] == newline { return (i, text()) }  // unterminated: stop at the line's end
            piece.append(b[i])
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

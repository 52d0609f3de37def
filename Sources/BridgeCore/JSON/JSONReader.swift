/// Reads JSON text (RFC 8259, strictly) into a `JSONValue`, saying where the text goes wrong.
///
/// The one JSON reader for everything from outside: the configuration files,
/// the credentials, control-socket requests and the platform's answers
/// (`JSONValue.decode`, which refuses repeated keys outright). Its cost is
/// linear in the input whatever the input, and it never traps.
///
/// Written for the configuration files instead of using `JSONDecoder`, which
/// (swift-foundation, measured on 6.3.1) reports only "The given data was not
/// valid JSON." with no line or column, silently keeps the first of two equal
/// keys and accepts a trailing comma. A technician editing a config over ssh
/// needs the line; and a repeated key is exactly the kind of typo that must
/// not disable a zone silently. Repeated keys are collected, not fatal, so the
/// rest of the file is still checked.
public struct JSONReader {
    /// Why the text is not JSON, at a 1-based line and column (columns count characters).
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var line: Int
        /// 0 when only the line is known (a repeated key).
        public var column: Int
        public var message: String
        public var description: String { column > 0 ? "line \(line), column \(column): \(message)" : "line \(line): \(message)" }
    }

    /// A step into a document: a key of an object, or an index of an array.
    public enum PathStep: Equatable, Sendable { case key(String), index(Int) }

    /// A key that appears twice in one object. `path` is the object's JSON path, `steps` the same as steps.
    public struct DuplicateKey: Equatable, Sendable {
        public var path: String
        public var steps: [PathStep]
        public var key: String
        public var firstLine: Int
        public var line: Int
    }

    /// The parsed document and the repeated keys found in it (the first occurrence's value is kept).
    public struct Document: Sendable {
        public var value: JSONValue
        public var duplicateKeys: [DuplicateKey]
    }

    /// Nesting deeper than this is refused rather than risking the stack; configs nest 4 levels.
    static let maximumDepth = 256

    public static func read(_ bytes: [UInt8]) throws(Failure) -> Document {
        var reader = JSONReader(bytes: bytes)
        return try reader.document()
    }

    private let bytes: [UInt8]
    private var pos = 0
    private var depth = 0
    /// Repeated keys as byte offsets (object path, key, first occurrence, repeat); lines are worked out once at the
    /// end, so a text of many repeated keys costs one pass, not one per key.
    /// Where the parse is (keys and indices), spelled out only when a repeated key needs naming.
    private var path: [PathStep] = []
    private var duplicates: [(steps: [PathStep], key: String, first: Int, repeat: Int)] = []

    private init(bytes: [UInt8]) { self.bytes = bytes }

    // MARK: Grammar

    private mutating func document() throws(Failure) -> Document {
        // A UTF-8 byte order mark is not JSON, but editors on Windows write one; it carries no meaning.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { pos = 3 }
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if pos < bytes.count {
            throw failure(at: pos, "unexpected \(token(at: pos)) after the end of the JSON document")
        }
        return Document(value: value, duplicateKeys: duplicateKeys())
    }

    /// A JSON path as the config issues write it: `zones[3].input`.
    private static func pathText(_ steps: [PathStep]) -> String {
        var text = ""
        for step in steps {
            switch step {
            case .key(let key): text += text.isEmpty ? key : ".\(key)"
            case .index(let i): text += "[\(i)]"
            }
        }
        return text
    }

    /// The repeated keys with their 1-based lines, from one scan of the text.
    private func duplicateKeys() -> [DuplicateKey] {
        guard !duplicates.isEmpty else { return [] }
        var newlines: [Int] = []
        for (offset, c) in bytes.enumerated() where c == 0x0A { newlines.append(offset) }
        func line(_ offset: Int) -> Int {
            // Newlines before `offset`, by binary search.
            var low = 0, high = newlines.count
            while low < high {
                let mid = (low + high) / 2
                if newlines[mid] < offset { low = mid + 1 } else { high = mid }
            }
            return low + 1
        }
        return duplicates.map {
            DuplicateKey(path: Self.pathText($0.steps), steps: $0.steps, key: $0.key, firstLine: line($0.first), line: line($0.repeat))
        }
    }

    private mutating func parseValue() throws(Failure) -> JSONValue {
        skipWhitespace()
        guard pos < bytes.count else { throw failure(at: pos, "expected a value, found the end of the file") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case UInt8(ascii: "t") where matches("true"): pos += 4; return .bool(true)
        case UInt8(ascii: "f") where matches("false"): pos += 5; return .bool(false)
        case UInt8(ascii: "n") where matches("null"): pos += 4; return .null
        case UInt8(ascii: "/"): throw failure(at: pos, "comments are not allowed in JSON")
        case UInt8(ascii: "'"): throw failure(at: pos, "strings must be in double quotes (\"), not single quotes")
        default: throw failure(at: pos, "expected a value, found \(token(at: pos))")
        }
    }

    private mutating func parseObject() throws(Failure) -> JSONValue {
        try enterContainer()
        pos += 1
        var members: [String: JSONValue] = [:]
        var keyPositions: [String: Int] = [:]
        skipWhitespace()
        if peek(is: "}") { pos += 1; depth -= 1; return .object(members) }
        while true {
            skipWhitespace()
            guard peek(is: "\"") else {
                if peek(is: "'") { throw failure(at: pos, "keys must be in double quotes (\"), not single quotes") }
                throw failure(at: pos, "expected a key in double quotes, found \(token(at: pos))")
            }
            let keyPosition = pos
            let key = try parseString()
            skipWhitespace()
            guard peek(is: ":") else {
                throw failure(at: pos, "expected \":\" after the key \(ConfigText.quoted(key)), found \(token(at: pos))")
            }
            pos += 1
            path.append(.key(key))
            let value = try parseValue()
            path.removeLast()
            if let first = keyPositions[key] {
                duplicates.append((path, key, first, keyPosition))
            } else {
                members[key] = value
                keyPositions[key] = keyPosition
            }
            skipWhitespace()
            if peek(is: ",") {
                let comma = pos
                pos += 1
                skipWhitespace()
                if peek(is: "}") { throw failure(at: comma, "trailing comma before \"}\"") }
                continue
            }
            if peek(is: "}") { pos += 1; depth -= 1; return .object(members) }
            throw failure(at: pos, "expected \",\" or \"}\" after the value of \(ConfigText.quoted(key)), found \(token(at: pos))")
        }
    }

    private mutating func parseArray() throws(Failure) -> JSONValue {
        try enterContainer()
        pos += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek(is: "]") { pos += 1; depth -= 1; return .array(elements) }
        while true {
            path.append(.index(elements.count))
            elements.append(try parseValue())
            path.removeLast()
            skipWhitespace()
            if peek(is: ",") {
                let comma = pos
                pos += 1
                skipWhitespace()
                if peek(is: "]") { throw failure(at: comma, "trailing comma before \"]\"") }
                continue
            }
            if peek(is: "]") { pos += 1; depth -= 1; return .array(elements) }
            throw failure(at: pos, "expected \",\" or \"]\" after an array element, found \(token(at: pos))")
        }
    }

    private mutating func enterContainer() throws(Failure) {
        depth += 1
        if depth > Self.maximumDepth {
            throw failure(at: pos, "nested more than \(Self.maximumDepth) levels deep")
        }
    }

    private mutating func parseString() throws(Failure) -> String {
        let start = pos
        pos += 1 // opening quote
        var utf8: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw failure(at: start, "string is not closed (missing \")") }
            let c = bytes[pos]
            switch c {
            case UInt8(ascii: "\""):
                pos += 1
                guard let s = String(validating: utf8, as: UTF8.self) else {
                    throw failure(at: start, "string is not valid UTF-8")
                }
                return s
            case UInt8(ascii: "\\"):
                try parseEscape(into: &utf8)
            case 0x0A, 0x0D:
                throw failure(at: pos, "line break inside a string (is a closing \" missing?)")
            case 0..<0x20:
                throw failure(at: pos, "control character inside a string (write it as an escape, e.g. \\t)")
            default:
                utf8.append(c)
                pos += 1
            }
        }
    }

    private mutating func parseEscape(into utf8: inout [UInt8]) throws(Failure) {
        let escape = pos
        pos += 1
        guard pos < bytes.count else { throw failure(at: escape, "string is not closed (missing \")") }
        let c = bytes[pos]
        pos += 1
        switch c {
        case UInt8(ascii: "\""): utf8.append(c)
        case UInt8(ascii: "\\"): utf8.append(c)
        case UInt8(ascii: "/"): utf8.append(c)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4(escape: escape)
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by an escaped low surrogate (RFC 8259 section 7).
                guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                    throw failure(at: escape, "\\u escape is half of a surrogate pair")
                }
                pos += 2
                let low = try hex4(escape: escape)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw failure(at: escape, "\\u escape is half of a surrogate pair")
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw failure(at: escape, "\\u escape is half of a surrogate pair")
            }
            guard let s = Unicode.Scalar(scalar) else { throw failure(at: escape, "\\u escape is not a character") }
            utf8.append(contentsOf: String(Character(s)).utf8)
        default:
            throw failure(at: escape, "unknown escape \\\(ConfigText.printable(String(decoding: [c], as: UTF8.self))) in a string")
        }
    }

    private mutating func hex4(escape: Int) throws(Failure) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw failure(at: escape, "\\u must be followed by 4 hex digits") }
        var value: UInt32 = 0
        for c in bytes[pos..<pos + 4] {
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw failure(at: escape, "\\u must be followed by 4 hex digits")
            }
            value = value << 4 | UInt32(digit)
        }
        pos += 4
        return value
    }

    private mutating func parseNumber() throws(Failure) -> JSONValue {
        let start = pos
        var isInteger = true
        if peek(is: "-") { pos += 1 }
        guard pos < bytes.count, isDigit(bytes[pos]) else {
            throw failure(at: start, "expected a digit after \"-\", found \(token(at: pos))")
        }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < bytes.count, isDigit(bytes[pos]) { throw failure(at: start, "numbers cannot start with 0") }
        } else {
            skipDigits()
        }
        if peek(is: ".") {
            pos += 1
            guard pos < bytes.count, isDigit(bytes[pos]) else {
                throw failure(at: pos, "expected a digit after \".\", found \(token(at: pos))")
            }
            skipDigits()
            isInteger = false
        }
        if peek(is: "e") || peek(is: "E") {
            pos += 1
            if peek(is: "+") || peek(is: "-") { pos += 1 }
            guard pos < bytes.count, isDigit(bytes[pos]) else {
                throw failure(at: pos, "expected a digit in the exponent, found \(token(at: pos))")
            }
            skipDigits()
            isInteger = false
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if isInteger, let i = Int64(text) { return .int(i) }
        guard let d = Double(text), d.isFinite else { throw failure(at: start, "number \(text) is too large") }
        return .double(d)
    }

    // MARK: Bytes

    private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private mutating func skipDigits() { while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 } }

    private mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    private func peek(is ascii: Unicode.Scalar) -> Bool { pos < bytes.count && bytes[pos] == UInt8(ascii: ascii) }

    /// True when the literal starts at `pos` and is not the start of a longer word (`nullable`).
    private func matches(_ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard pos + n <= bytes.count else { return false }
        let same = literal.withUTF8Buffer { $0.elementsEqual(bytes[pos..<pos + n]) }
        return same && (pos + n == bytes.count || !isWordByte(bytes[pos + n]))
    }

    private func isWordByte(_ c: UInt8) -> Bool {
        isDigit(c) || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "z")) || c == UInt8(ascii: "_") || c >= 0x80
    }

    /// What stands at `at`, for a message: a word (`True`, `NaN`), one character, or the end of the file.
    private func token(at: Int) -> String {
        guard at < bytes.count else { return "the end of the file" }
        // A quote shown in quotes (`"""`) reads as noise; where one is unexpected, a "," is usually missing before it.
        if bytes[at] == UInt8(ascii: "\"") { return "the start of a string (is a \",\" missing?)" }
        var end = at
        while end < bytes.count, end - at < 24, isWordByte(bytes[end]) { end += 1 }
        if end == at {
            // One character, however many UTF-8 bytes it takes.
            end = at + 1
            while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        }
        return ConfigText.quoted(String(decoding: bytes[at..<end], as: UTF8.self))
    }

    private func location(of offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        let bom = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        for c in bytes[min(bom, offset)..<min(offset, bytes.count)] {
            if c == 0x0A { line += 1; column = 1 } else if c & 0xC0 != 0x80 { column += 1 }
        }
        return (line, column)
    }

    private func failure(at offset: Int, _ message: String) -> Failure {
        let (line, column) = location(of: offset)
        return Failure(line: line, column: column, message: message)
    }
}

/// Wording shared by every configuration message: quoting, "did you mean", and compact id lists.
///
/// Public for the other places that print text from outside (the command's output lines, control-socket
/// refusals): one rule for what reaches a terminal.
public enum ConfigText {
    /// `"value"`, as keys and string values are shown in messages, with `escaped` applied: the one place
    /// messages quote what a file or a user wrote.
    public static func quoted(_ s: String) -> String { "\"\(escaped(s))\"" }

    /// `s` safe to print on a terminal: control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F)
    /// and the bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069, which reorder what a reader
    /// sees) as `\u{1B}`-style escapes, and `\` and `"` as `\\` and `\"`, so the text in the quotes reads back
    /// unambiguously. A raw NUL or ESC in a message would be invisible, or would garble the technician's terminal.
    public static func escaped(_ s: String) -> String { escaping(s, quotes: true) }

    /// `s` with only its control characters and bidirectional overrides escaped (`\u{1B}`): for text printed
    /// unquoted (a board's name in a summary line, a table cell), where quotes and backslashes are just text.
    public static func printable(_ s: String) -> String { escaping(s, quotes: false) }

    private static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control || (0x202A...0x202E).contains(scalar.value)
            || (0x2066...0x2069).contains(scalar.value)
    }

    private static func escaping(_ s: String, quotes: Bool) -> String {
        guard s.unicodeScalars.contains(where: { isUnsafe($0) || (quotes && ($0 == "\\" || $0 == "\"")) }) else { return s }
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\" where quotes: out += "\\\\"
            case "\"" where quotes: out += "\\\""
            case _ where isUnsafe(scalar):
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `"a", "b", "c"`.
    static func quotedList(_ items: [String]) -> String { items.map(quoted).joined(separator: ", ") }

    /// `"a"`, `"a" and "b"`, `"a", "b" and "c"`: for the places a board was looked for.
    static func quotedSentence(_ items: [String]) -> String {
        let q = items.map(quoted)
        guard q.count > 1 else { return q.first ?? "" }
        return q.dropLast().joined(separator: ", ") + " and " + q[q.count - 1]
    }

    /// The known word a misspelt one most likely meant, or nil when none is close.
    ///
    /// Catches the usual slips: a typo (`debounse_ms`), another spelling of the
    /// separators or case (`debounceMs`, `pull-up`), and a unit suffix left off
    /// (`pulse` for `pulse_ms`). The closest candidate wins; ties go to the
    /// first in `candidates`, which callers list in documentation order.
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        func folded(_ s: String) -> String { String(s.lowercased().filter { $0 != "_" && $0 != "-" && $0 != " " }) }
        let w = folded(word)
        guard !w.isEmpty else { return nil }
        if let same = candidates.first(where: { folded($0) == w }) { return same }
        var best: (word: String, distance: Int)?
        for c in candidates {
            let f = folded(c)
            let d = editDistance(Array(w), Array(f))
            let limit = min(w.count, f.count) <= 4 ? 1 : (min(w.count, f.count) <= 9 ? 2 : 3)
            let isPrefix = min(w.count, f.count) >= 4 && (f.hasPrefix(w) || w.hasPrefix(f))
            guard d <= limit || isPrefix else { continue }
            if best == nil || d < best!.distance { best = (c, d) }
        }
        return best?.word
    }

    /// Levenshtein distance, counting a swap of two neighbours as one edit (`debonuce`).
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }

    /// Ids as a technician reads them: runs of a common prefix with consecutive
    /// numbers compressed (`in1..in4`), everything else comma-separated.
    ///
    /// Ids with the same prefix are brought together and ordered by number
    /// (prefixes in order of first appearance), so `in3, in1, in2, in4` still
    /// reads `in1..in4`. A run of two stays a list (`out1, out2`): clearer than
    /// `out1..out2`. `"(has none)"`-style wording for an empty list is the caller's.
    static func idList(_ ids: [String]) -> String {
        var seen = Set<String>()
        let unique = ids.map(escaped).filter { seen.insert($0).inserted }
        let split = unique.map(splitNumber)
        var prefixOrder: [String: Int] = [:]
        for s in split where prefixOrder[s.prefix] == nil { prefixOrder[s.prefix] = prefixOrder.count }
        let ordered = split.enumerated().sorted { l, r in
            let (pl, pr) = (prefixOrder[l.element.prefix]!, prefixOrder[r.element.prefix]!)
            if pl != pr { return pl < pr }
            switch (l.element.number, r.element.number) {
            case let (a?, b?) where a != b: return a < b
            case (nil, _?): return true
            case (_?, nil): return false
            default: return l.offset < r.offset
            }
        }.map(\.element)

        var parts: [String] = []
        var i = 0
        while i < ordered.count {
            var j = i
            if let n = ordered[i].number {
                while j + 1 < ordered.count, ordered[j + 1].prefix == ordered[i].prefix,
                      ordered[j + 1].number == n + (j + 1 - i) { j += 1 }
            }
            if j - i >= 2 {
                parts.append("\(ordered[i].id)..\(ordered[j].id)")
            } else {
                parts.append(contentsOf: ordered[i...j].map(\.id))
            }
            i = j + 1
        }
        return parts.joined(separator: ", ")
    }

    /// `in12` → (`in`, 12). Digits with a leading zero (`in01`) are not a number here:
    /// `in01..in03` would not say which spelling the ids use.
    private static func splitNumber(_ id: String) -> (id: String, prefix: String, number: Int?) {
        let digits = id.reversed().prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 9 else { return (id, id, nil) }
        let text = String(digits.reversed())
        guard text == "0" || !text.hasPrefix("0"), let n = Int(text) else { return (id, id, nil) }
        return (id, String(id.dropLast(digits.count)), n)
    }
}

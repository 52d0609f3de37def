/// The command line after the command words: options and positional arguments, checked against what a command accepts.
struct Arguments {
    var positional: [String] = []
    var flags: Set<String> = []
    var values: [String: String] = [:]

    struct UsageError: Error { var message: String }

    /// Parses `words`. `flags` take no value, `options` take one (`--ms 500` or `--ms=500`).
    init(_ words: [String], flags allowedFlags: Set<String>, options allowedOptions: Set<String>) throws(UsageError) {
        var i = 0
        var onlyPositional = false
        while i < words.count {
            let w = words[i]
            i += 1
            if onlyPositional || !w.hasPrefix("-") || w == "-" {
                positional.append(w)
                continue
            }
            if w == "--" { onlyPositional = true; continue }
            var name = w
            var inline: String?
            if let eq = w.firstIndex(of: "=") {
                name = String(w[..<eq])
                inline = String(w[w.index(after: eq)...])
            }
            if allowedFlags.contains(name) {
                guard inline == nil else { throw UsageError(message: "\(name) takes no value") }
                flags.insert(name)
            } else if allowedOptions.contains(name) {
                if let inline { values[name] = inline; continue }
                guard i < words.count else { throw UsageError(message: "\(name) needs a value") }
                values[name] = words[i]
                i += 1
            } else {
                let known = (allowedFlags.union(allowedOptions)).sorted()
                throw UsageError(message: "unknown option \(name)" + (known.isEmpty ? "" : " (this command takes \(known.joined(separator: ", ")))"))
            }
        }
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }

    func int(_ option: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let text = values[option] else { return nil }
        guard let v = Int(text), range.contains(v) else {
            throw UsageError(message: "\(option) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \"\(text)\"")
        }
        return v
    }

    /// Exactly `names.count` positional arguments.
    func expect(_ names: [String]) throws(UsageError) -> [String] {
        if positional.count < names.count {
            throw UsageError(message: "missing \(names[positional.count...].joined(separator: " "))")
        }
        if positional.count > names.count {
            throw UsageError(message: "unexpected argument \"\(positional[names.count])\"")
        }
        return positional
    }
}

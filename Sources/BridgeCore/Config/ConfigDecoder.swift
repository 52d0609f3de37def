/// Walks a parsed configuration document by hand and collects every problem, never stopping at the first.
///
/// Each accessor returns nil when the value is absent or wrong and records
/// why; callers then fall back to a default or a placeholder so the walk can
/// go on. A decode with any issue is thrown away, so placeholders never reach
/// the agent.
struct ConfigDecoder {
    let file: String
    private(set) var issues: [ConfigIssue] = []

    init(file: String) { self.file = file }

    mutating func report(_ path: String, _ message: String) {
        issues.append(ConfigIssue(file: file, path: path, message: message))
    }

    mutating func append(_ more: [ConfigIssue]) { issues.append(contentsOf: more) }

    /// An object whose keys have been checked against the keys it may have.
    struct Object {
        let fields: JSONObject
        let path: String
        func path(_ key: String) -> String { ConfigPath.key(key, in: path) }
        func has(_ key: String) -> Bool { fields[key] != nil }
    }

    // MARK: Containers

    /// The value as an object, with every key it may not have reported (and the likely meant one suggested).
    mutating func object(_ value: JSONValue, at path: String, keys: [String]) -> Object? {
        guard case .object(let fields) = value else {
            report(path, path.isEmpty ? "expected a JSON object ({...}) at the top of the file, found \(value.kindName)"
                                      : "expected an object, found \(value.kindName)")
            return nil
        }
        for key in fields.keys.sorted() where !keys.contains(key) {
            var message = "unknown key \(ConfigText.quoted(key))"
            if let near = ConfigText.suggestion(for: key, among: keys) {
                message += "; did you mean \(ConfigText.quoted(near))?"
            }
            report(path, message)
        }
        return Object(fields: fields, path: path)
    }

    mutating func object(_ o: Object, _ key: String, keys: [String], required: Bool = false) -> Object? {
        guard let value = present(o, key, required: required) else { return nil }
        return object(value, at: o.path(key), keys: keys)
    }

    /// The elements of an optional array with their paths; `[]` when the key is absent.
    mutating func array(_ o: Object, _ key: String, required: Bool = false) -> [(value: JSONValue, path: String)] {
        guard let value = present(o, key, required: required) else { return [] }
        guard case .array(let elements) = value else {
            report(o.path(key), "expected an array ([...]), found \(value.kindName)")
            return []
        }
        return elements.enumerated().map { ($0.element, ConfigPath.index($0.offset, in: o.path(key))) }
    }

    // MARK: Scalars

    /// A string; empty strings are refused unless `allowEmpty`.
    mutating func string(_ o: Object, _ key: String, required: Bool = false, allowEmpty: Bool = false) -> String? {
        guard let value = present(o, key, required: required) else { return nil }
        guard case .string(let s) = value else {
            report(o.path(key), "expected a string, found \(value.kindName)")
            return nil
        }
        if s.isEmpty && !allowEmpty {
            report(o.path(key), "expected a non-empty string")
            return nil
        }
        return s
    }

    /// An id: a non-empty string without whitespace or control characters, so it can be typed on the CLI.
    ///
    /// A bad id is still returned (after reporting), so references to it do not raise a second, misleading issue.
    mutating func id(_ o: Object, _ key: String = "id") -> String? {
        guard let s = string(o, key, required: true) else { return nil }
        if s.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
            || ConfigText.printable(s) != s {
            report(o.path(key), "id \(ConfigText.quoted(s)) contains whitespace or a control character; ids are typed on the command line")
        }
        return s
    }

    /// An integer within `range`; `3.0` counts as 3, `3.5` does not.
    mutating func int(_ o: Object, _ key: String, in range: ClosedRange<Int>, required: Bool = false) -> Int? {
        guard let value = present(o, key, required: required) else { return nil }
        guard let i = integer(value, at: o.path(key)) else { return nil }
        guard range.contains(i) else {
            report(o.path(key), "\(key) \(i) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return i
    }

    /// An integer that must be one of a few values (baud rates, data bits).
    mutating func int(_ o: Object, _ key: String, oneOf allowed: [Int], required: Bool = false) -> Int? {
        guard let value = present(o, key, required: required) else { return nil }
        guard let i = integer(value, at: o.path(key)) else { return nil }
        guard allowed.contains(i) else {
            report(o.path(key), "expected one of \(allowed.map(String.init).joined(separator: ", ")), found \(i)")
            return nil
        }
        return i
    }

    mutating func bool(_ o: Object, _ key: String, required: Bool = false) -> Bool? {
        guard let value = present(o, key, required: required) else { return nil }
        guard case .bool(let b) = value else {
            report(o.path(key), "expected true or false, found \(value.kindName)")
            return nil
        }
        return b
    }

    /// One of an enum's spellings, suggesting the likely one for a near miss (`pull-up`).
    mutating func choice<E: RawRepresentable & CaseIterable>(_ o: Object, _ key: String, _: E.Type,
                                                             required: Bool = false) -> E? where E.RawValue == String {
        guard let value = present(o, key, required: required) else { return nil }
        let names = E.allCases.map(\.rawValue)
        guard case .string(let s) = value else {
            report(o.path(key), "expected one of \(ConfigText.quotedList(names)), found \(value.kindName)")
            return nil
        }
        guard let e = E(rawValue: s) else {
            var message = "expected one of \(ConfigText.quotedList(names)), found \(ConfigText.quoted(s))"
            if let near = ConfigText.suggestion(for: s, among: names) { message += "; did you mean \(ConfigText.quoted(near))?" }
            report(o.path(key), message)
            return nil
        }
        return e
    }

    // MARK: Helpers

    private mutating func present(_ o: Object, _ key: String, required: Bool) -> JSONValue? {
        guard let value = o.fields[key] else {
            if required { report(o.path, "missing required key \(ConfigText.quoted(key))") }
            return nil
        }
        return value
    }

    private mutating func integer(_ value: JSONValue, at path: String) -> Int? {
        switch value {
        case .int, .double:
            guard let i = value.intValue, let n = Int(exactly: i) else {
                report(path, "expected an integer, found \(value.doubleValue.map(Self.number) ?? value.kindName)")
                return nil
            }
            return n
        default:
            report(path, "expected an integer, found \(value.kindName)")
            return nil
        }
    }

    private static func number(_ d: Double) -> String { d.description }
}

/// JSON paths as shown in messages: `zones[3].input`, `modbus_devices[0].inputs[2].bit`.
enum ConfigPath {
    static func key(_ key: String, in path: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    static func index(_ index: Int, in path: String) -> String { "\(path)[\(index)]" }
}

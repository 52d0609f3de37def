/// One problem found in a configuration file: where it is and what was expected.
///
/// `description` is the line a technician reads, e.g.
/// `config.json: zones[3].input: no input "in9" on board rpi-relay-3ch (has in1..in4)`.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    /// The file as the user named it (or as it was resolved, for a board found through `bridge.board`).
    public var file: String
    /// The JSON path of the offending value or object, e.g. `zones[3].input`; `""` for whole-file problems.
    public var path: String
    /// What was found and what was expected.
    public var message: String

    /// An issue as the loader reports it; `path` is `""` when the whole file is at fault.
    public init(file: String, path: String, message: String) {
        self.file = file; self.path = path; self.message = message
    }

    /// `file: path: message`, or `file: message` for a whole-file problem. The file name and the path (made of the
    /// file's own keys) have their control characters escaped; the message quotes what it quotes escaped already.
    public var description: String {
        let file = ConfigText.printable(self.file), path = ConfigText.printable(self.path)
        return path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)"
    }
}

/// Every problem found while loading configuration, reported together so one edit can fix them all.
///
/// `description` prints one issue per line, in the order they were found
/// (the site config's issues first, then its board's).
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    /// The issues in the order they were found.
    public init(issues: [ConfigIssue]) { self.issues = issues }

    /// One issue per line, no trailing newline.
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

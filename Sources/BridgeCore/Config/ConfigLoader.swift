#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads and validates board profiles and site configs (config.md), reporting every problem at once.
///
/// Decoding is strict: unknown keys, missing keys, wrong types, values out of
/// range and dangling references are all issues, each naming the file, the
/// JSON path and what was expected. Nothing is returned unless the whole
/// configuration is valid, so the agent never drives an output from a half-read
/// file. The `parse…` functions are pure; `load…` read files (the only I/O in
/// BridgeCore: the CLI's `validate` commands and the agent share it).
public enum ConfigLoader {
    /// Where packaged board profiles are installed; the second place a relative `bridge.board` is looked for.
    public static let installedBoardsDirectory = "/usr/share/chekt-bridge/boards"

    /// Larger files are refused unread: configs are a few kilobytes, and a path to a device
    /// (`/dev/zero`) or a log must not be read forever.
    static let maximumFileSize = 1 << 20

    // MARK: Board profiles

    /// Decodes and validates a board profile; `file` names it in issues.
    public static func parseBoard(_ bytes: [UInt8], file: String) throws(ConfigError) -> BoardProfile {
        var decoder = ConfigDecoder(file: file)
        let board = boardDraft(bytes, decoder: &decoder)
        guard decoder.issues.isEmpty, let board else { throw ConfigError(issues: decoder.issues) }
        return board.profile
    }

    /// Reads, decodes and validates the board profile at `path` (used as given, not resolved).
    public static func loadBoard(path: String) throws(ConfigError) -> BoardProfile {
        try parseBoard(readFile(path), file: path)
    }

    /// Decodes a board as far as it can be, with every issue recorded in `decoder`.
    /// Nil when the file is not a JSON object at all (then nothing can be cross-checked against it).
    static func boardDraft(_ bytes: [UInt8], decoder: inout ConfigDecoder) -> BoardDraft? {
        guard let root = document(bytes, decoder: &decoder) else { return nil }
        guard let board = decodeBoard(root, decoder: &decoder) else { return nil }
        checkBoard(board, decoder: &decoder)
        return board
    }

    // MARK: Site configs

    /// Decodes and validates a site config on its own: types, ranges, and references among its
    /// partitions, zones and relays. References into the board are `crossCheck`'s.
    public static func parseSiteConfig(_ bytes: [UInt8], file: String) throws(ConfigError) -> SiteConfig {
        var decoder = ConfigDecoder(file: file)
        let config = siteDraft(bytes, decoder: &decoder)
        guard decoder.issues.isEmpty, let config else { throw ConfigError(issues: decoder.issues) }
        return config
    }

    static func siteDraft(_ bytes: [UInt8], decoder: inout ConfigDecoder) -> SiteConfig? {
        guard let root = document(bytes, decoder: &decoder) else { return nil }
        guard let config = decodeSite(root, decoder: &decoder) else { return nil }
        checkSite(config, decoder: &decoder)
        return config
    }

    /// Reads the site config, finds and loads its board, cross-checks the two, and resolves relative paths.
    ///
    /// All issues, the config's and the board's (with the board file as their
    /// `file`), come in one error. A relative `bridge.board` is looked for next
    /// to the config file, then in `boardsDirectory`, then (by file name alone)
    /// in `boardsDirectory`; `Site.boardPath` is the file actually loaded.
    /// Relative `state_dir`, `upstream.credentials` and `upstream.ca_file` are
    /// resolved against the config file's folder. `config.bridge.board` stays as written.
    public static func loadSite(path: String, boardsDirectory: String = installedBoardsDirectory) throws(ConfigError) -> Site {
        let bytes = try readFile(path)
        var decoder = ConfigDecoder(file: path)
        guard var config = siteDraft(bytes, decoder: &decoder) else { throw ConfigError(issues: decoder.issues) }

        var board: BoardDraft?
        var boardPath = ""
        var boardIssues: [ConfigIssue] = []
        if !config.bridge.board.isEmpty {
            let candidates = boardCandidates(config.bridge.board, configPath: path, boardsDirectory: boardsDirectory)
            if let found = candidates.first(where: exists) {
                boardPath = found
                var boardDecoder = ConfigDecoder(file: found)
                switch readFileResult(found) {
                case .success(let boardBytes): board = boardDraft(boardBytes, decoder: &boardDecoder)
                case .failure(let error): boardDecoder.append(error.issues)
                }
                boardIssues = boardDecoder.issues
                if let board { decoder.append(crossCheck(config, board: board.profile, file: path)) }
            } else {
                decoder.report("bridge.board", "board \(ConfigText.quoted(config.bridge.board)) not found; tried "
                               + ConfigText.quotedSentence(candidates))
            }
        }

        let issues = decoder.issues + boardIssues
        guard issues.isEmpty, let board else { throw ConfigError(issues: issues) }

        let folder = directory(of: path)
        config.bridge.stateDir = resolve(config.bridge.stateDir, against: folder)
        if var upstream = config.upstream {
            upstream.credentials = resolve(upstream.credentials, against: folder)
            upstream.caFile = upstream.caFile.map { resolve($0, against: folder) }
            config.upstream = upstream
        }
        return Site(config: config, board: board.profile, boardPath: boardPath)
    }

    /// Parses the JSON text, reporting an empty file, malformed JSON (with line and column) and repeated keys.
    static func document(_ bytes: [UInt8], decoder: inout ConfigDecoder) -> JSONValue? {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            decoder.report("", "file is empty; expected a JSON object")
            return nil
        }
        do {
            let document = try JSONReader.read(bytes)
            for duplicate in document.duplicateKeys {
                let lines = duplicate.firstLine == duplicate.line ? "line \(duplicate.line)"
                                                                  : "lines \(duplicate.firstLine) and \(duplicate.line)"
                decoder.report(duplicate.path, "key \(ConfigText.quoted(duplicate.key)) appears twice (\(lines)); keep one")
            }
            return document.value
        } catch {
            decoder.report("", "not valid JSON: \(error)")
            return nil
        }
    }
}

// MARK: - Files and paths

extension ConfigLoader {
    /// The file's bytes, or one issue in the words of `strerror`: `x.json: cannot read: No such file or directory`.
    static func readFile(_ path: String) throws(ConfigError) -> [UInt8] {
        try readFileResult(path).get()
    }

    static func readFileResult(_ path: String) -> Result<[UInt8], ConfigError> {
        switch SmallFile.read(path, limit: maximumFileSize) {
        case .success(let file): return .success(file.bytes)
        case .failure(let failure):
            let why: String
            switch failure.problem {
            case .system(let code): why = errnoText(code)
            case .notRegular(let what): why = "not a regular file but \(what); give the path of a JSON file"
            case .tooLarge: why = "larger than \(maximumFileSize >> 20) MiB, which no configuration file is; is this the right file?"
            }
            return .failure(ConfigError(issues: [ConfigIssue(file: path, path: "", message: "cannot read: \(why)")]))
        }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Where a `bridge.board` value is looked for, in order, without repeats.
    ///
    /// The third place, the file name alone in the installed boards folder,
    /// makes a config written against a source tree (`../../boards/x.json`)
    /// or config.md's example (`boards/x.json`) find the packaged profile.
    static func boardCandidates(_ board: String, configPath: String, boardsDirectory: String) -> [String] {
        if board.hasPrefix("/") { return [board] }
        var candidates = [
            join(directory(of: configPath), board),
            join(boardsDirectory, board),
            join(boardsDirectory, String(board.split(separator: "/").last ?? Substring(board))),
        ]
        var seen = Set<String>()
        candidates = candidates.filter { seen.insert($0).inserted }
        return candidates
    }

    /// The folder part of a path: `examples/demo/config.json` → `examples/demo`; `config.json` → `""` (the working directory).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func join(_ folder: String, _ relative: String) -> String {
        if folder.isEmpty || folder == "." { return relative }
        return folder.hasSuffix("/") ? folder + relative : folder + "/" + relative
    }

    /// `path` unchanged when absolute, else joined to `folder`. Not normalised (`a/../b` stays):
    /// `..` through a symlinked folder means something else to the kernel than to a string edit.
    static func resolve(_ path: String, against folder: String) -> String {
        path.hasPrefix("/") ? path : join(folder, path)
    }
}

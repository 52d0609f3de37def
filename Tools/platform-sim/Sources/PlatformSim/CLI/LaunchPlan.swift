import Foundation

/// Turns the command line's bridge flags and bridges file into registrations, with errors that say what to fix.
///
/// Pure apart from reading the named files, so the pairing rules are tested without starting a server.
public enum LaunchPlan {
    /// Resolves `--bridge ID:CREDFILE`, `--bridge ID` + `--credentials FILE` (paired in order), and a bridges file.
    ///
    /// A bridges file is `{"bridges": [{"id": "...", "credentials": "path"} | {"id", "api_key", "signing_secret"}]}`;
    /// a relative `credentials` path is resolved against the bridges file's folder. Ids must be unique.
    public static func registrations(bridgeFlags: [String], credentialFlags: [String], bridgesFile: String?)
        throws(SetupError) -> [BridgeRegistration]
    {
        var result: [BridgeRegistration] = []
        var unusedCredentials = credentialFlags[...]
        for flag in bridgeFlags {
            let id: String
            let path: String
            if let colon = flag.firstIndex(of: ":") {
                id = String(flag[..<colon])
                path = String(flag[flag.index(after: colon)...])
                guard !path.isEmpty else { throw SetupError("--bridge \(flag): nothing after ':' (give ID:CREDFILE)") }
            } else {
                guard let next = unusedCredentials.popFirst() else {
                    throw SetupError(
                        "--bridge \(flag) has no credentials: give --bridge \(flag):CREDFILE, or one --credentials FILE per plain --bridge"
                    )
                }
                id = flag
                path = next
            }
            if let problem = BridgeRegistration.validateID(id) { throw SetupError("--bridge \(flag): \(problem)") }
            result.append(BridgeRegistration(id: id, credentials: try BridgeCredentials.load(path: path)))
        }
        if let extra = unusedCredentials.first {
            throw SetupError("--credentials \(extra) is not paired with a plain --bridge ID (pairs are taken in order)")
        }
        if let bridgesFile { result += try fromFile(bridgesFile) }
        var seen: Set<String> = []
        for r in result where !seen.insert(r.id).inserted {
            throw SetupError("bridge \"\(r.id)\" is registered twice")
        }
        return result
    }

    private static func fromFile(_ path: String) throws(SetupError) -> [BridgeRegistration] {
        let json = try readJSONFile(path, what: "bridges file")
        guard let list = json["bridges"]?.arrayValue else {
            throw SetupError("\(path): expected {\"bridges\": [{\"id\": \"...\", \"credentials\": \"path\"}, ...]}")
        }
        let folder = (path as NSString).deletingLastPathComponent
        var result: [BridgeRegistration] = []
        for (i, entry) in list.enumerated() {
            let at = "\(path): bridges[\(i)]"
            guard var m = entry.objectValue else { throw SetupError("\(at): expected an object") }
            guard let id = m.removeValue(forKey: "id")?.stringValue else { throw SetupError("\(at).id: required string") }
            if let problem = BridgeRegistration.validateID(id) { throw SetupError("\(at).id: \(problem)") }
            if let file = m.removeValue(forKey: "credentials") {
                guard let p = file.stringValue, !p.isEmpty else {
                    throw SetupError("\(at).credentials: expected a file path")
                }
                guard m.isEmpty else {
                    throw SetupError("\(at): give either \"credentials\" or \"api_key\" + \"signing_secret\", not both")
                }
                let resolved = p.hasPrefix("/") || folder.isEmpty ? p : folder + "/" + p
                result.append(BridgeRegistration(id: id, credentials: try BridgeCredentials.load(path: resolved)))
            } else {
                result.append(BridgeRegistration(id: id, credentials: try BridgeCredentials.from(.object(m), source: at)))
            }
        }
        return result
    }

    /// The URL in the "listening" line, with brackets around an IPv6 host.
    public static func baseURL(host: String, port: Int) -> String {
        host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
    }
}

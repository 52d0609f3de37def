extension Request {
    /// The request types by their protocol.md names (`relay.pulse` is local: the CLI's `relay pulse`).
    public static let typeNames = ["partition.arm", "partition.disarm", "zone.bypass", "zone.unbypass",
                                   "relay.activate", "relay.deactivate", "relay.pulse"]

    /// Builds a request from a command's `type` and `params` (protocol.md, Commands), or the rejection to answer.
    ///
    /// Unknown types give `unsupported_command`; missing, mistyped or unknown params give `invalid_params`.
    /// Whether the target exists is the engine's to say (`unknown_target`).
    public static func parse(type: String, params: JSONObject) -> Result<Request, RequestResultError> {
        var problems: [String] = []
        func string(_ key: String) -> String {
            guard let v = params[key] else { problems.append("\"\(key)\" is required"); return "" }
            guard let s = v.stringValue, !s.isEmpty else { problems.append("\"\(key)\" must be a non-empty string, found \(v.kindName)"); return "" }
            return s
        }
        func optionalInt(_ key: String) -> Int? {
            guard let v = params[key], v != .null else { return nil }
            guard let i = v.intValue, i > 0, i <= 86_400_000 else {
                problems.append("\"\(key)\" must be a whole number of milliseconds from 1 to 86400000, found \(v.kindName == "a number" ? "\(v.doubleValue ?? 0)" : v.kindName)")
                return nil
            }
            return Int(i)
        }
        func allowOnly(_ keys: Set<String>) {
            // Named up to five: a body of 100,000 unknown keys must not make a message of them all.
            let unknown = params.keys.filter { !keys.contains($0) }.sorted()
            for key in unknown.prefix(5) { problems.append("unknown parameter \(ConfigText.quoted(String(key.prefix(64))))") }
            if unknown.count > 5 { problems.append("\(unknown.count - 5) more unknown parameters") }
        }
        let request: Request
        switch type {
        case "partition.arm":
            allowOnly(["partition", "mode", "force"])
            let partition = string("partition")
            var mode = ArmMode.away
            if let m = params["mode"], m != .null {
                if let s = m.stringValue, let parsed = ArmMode(rawValue: s) { mode = parsed }
                else { problems.append("\"mode\" must be \"away\" or \"stay\"") }
            }
            var force = false
            if let f = params["force"], f != .null {
                if let b = f.boolValue { force = b } else { problems.append("\"force\" must be true or false, found \(f.kindName)") }
            }
            request = .arm(partition: partition, mode: mode, force: force)
        case "partition.disarm":
            allowOnly(["partition"])
            request = .disarm(partition: string("partition"))
        case "zone.bypass":
            allowOnly(["zone"])
            request = .bypass(zone: string("zone"))
        case "zone.unbypass":
            allowOnly(["zone"])
            request = .unbypass(zone: string("zone"))
        case "relay.activate":
            allowOnly(["relay", "duration_ms"])
            request = .relayActivate(relay: string("relay"), durationMs: optionalInt("duration_ms"))
        case "relay.pulse":
            allowOnly(["relay", "duration_ms"])
            request = .relayPulse(relay: string("relay"), durationMs: optionalInt("duration_ms"))
        case "relay.deactivate":
            allowOnly(["relay"])
            request = .relayDeactivate(relay: string("relay"))
        default:
            return .failure(RequestResultError(.rejected("unsupported_command",
                "unsupported command type \(ConfigText.quoted(String(type.prefix(64)))) (supported: \(typeNames.joined(separator: ", ")))")))
        }
        if !problems.isEmpty {
            return .failure(RequestResultError(.rejected("invalid_params", problems.joined(separator: "; "))))
        }
        return .success(request)
    }
}

/// A `RequestResult` carried as an error (a request that could not even be built).
public struct RequestResultError: Error, Sendable, Equatable {
    public var result: RequestResult
    public init(_ result: RequestResult) { self.result = result }
}

extension RequestResult {
    /// The result as protocol.md's result body fields (`status`, `code`, `message`, `state`), plus `zones`.
    public var json: JSONObject {
        var o: JSONObject = ["status": .string(status.rawValue)]
        if let code { o["code"] = .string(code) }
        if let message { o["message"] = .string(message) }
        if let zones { o["zones"] = .array(zones.map { .string($0) }) }
        if let state { o["state"] = state }
        return o
    }
}

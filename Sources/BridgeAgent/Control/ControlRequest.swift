import BridgeCore

/// One control-socket request line, read and checked before anything acts on it (docs/control-socket.md).
///
/// Pure, so that every line a client can send is checked in one place (and fuzzed: Tools/fuzz): the line
/// must be one JSON object with no repeated key, an `op` the agent knows, only that op's keys, each of the
/// right type and in range. Anything else is a `bad_request`, never a guess and never a trap.
public enum ControlRequest: Sendable, Equatable {
    case status
    case inputs(watch: Bool)
    /// A request for the engine, or the `rejected` result its type or params earn (answered as a result, as a
    /// platform command's would be).
    case request(Result<Request, RequestResultError>)
    case simInput(String, active: Bool)
    case simDevice(String, online: Bool)
    case events(EventQuery)

    /// `events`: from `since` (a seq, 0 or more) or else the last `last` events; `follow` keeps the stream open.
    public struct EventQuery: Sendable, Equatable {
        public var since: Int64?
        public var last: Int64
        public var follow: Bool
    }

    /// Why a line is not a request: answered `bad_request`, exit 2.
    public struct Refusal: Error, Sendable, Equatable {
        public var message: String
    }

    /// The most `last` may ask for: a bigger backlog is read with `since`.
    public static let maximumLast: Int64 = 100_000

    /// Reads one request line (without its newline).
    public static func parse(_ line: [UInt8]) -> Result<ControlRequest, Refusal> {
        let value: JSONValue
        do { value = try JSONValue.decode(line) } catch {
            return .failure(Refusal(message: "the request is not valid JSON (\(error))"))
        }
        guard let object = value.objectValue, let op = object["op"]?.stringValue else {
            return .failure(Refusal(message: "the request is not a JSON object with an \"op\""))
        }
        var reader = Reader(op: op, object: object)
        let request: ControlRequest
        switch op {
        case "status":
            reader.allow([])
            request = .status
        case "inputs":
            reader.allow(["watch"])
            request = .inputs(watch: reader.bool("watch") ?? false)
        case "request":
            reader.allow(["type", "params"])
            let type = reader.string("type", required: true) ?? ""
            let params = reader.object("params") ?? [:]
            request = .request(Request.parse(type: type, params: params))
        case "sim.input":
            reader.allow(["input", "active"])
            let input = reader.string("input", required: true) ?? ""
            let active = reader.bool("active", required: true) ?? false
            request = .simInput(input, active: active)
        case "sim.device":
            reader.allow(["device", "online"])
            let device = reader.string("device", required: true) ?? ""
            let online = reader.bool("online", required: true) ?? false
            request = .simDevice(device, online: online)
        case "events":
            reader.allow(["since", "last", "follow"])
            let since = reader.integer("since", in: 0...Int64.max)
            let last = reader.integer("last", in: 0...maximumLast) ?? 20
            request = .events(EventQuery(since: since, last: last, follow: reader.bool("follow") ?? false))
        default:
            return .failure(Refusal(message: "unknown operation \(ConfigText.quoted(op)) (known: events, inputs, request, sim.device, sim.input, status)"))
        }
        if let problem = reader.problems.first {
            return .failure(Refusal(message: "\(op): \(problem)" + (reader.problems.count > 1 ? " (and \(reader.problems.count - 1) more)" : "")))
        }
        return .success(request)
    }

    /// Typed, range-checked access to one request's keys, collecting what is wrong.
    private struct Reader {
        let op: String
        let object: JSONObject
        var problems: [String] = []

        mutating func allow(_ keys: Set<String>) {
            for key in object.keys.sorted() where key != "op" && !keys.contains(key) {
                problems.append("unknown key \(ConfigText.quoted(key))")
            }
        }

        mutating func string(_ key: String, required: Bool = false) -> String? {
            guard let value = present(key, required: required) else { return nil }
            guard let s = value.stringValue else { problems.append("\"\(key)\" must be a string, not \(value.kindName)"); return nil }
            return s
        }

        mutating func bool(_ key: String, required: Bool = false) -> Bool? {
            guard let value = present(key, required: required) else { return nil }
            guard let b = value.boolValue else { problems.append("\"\(key)\" must be true or false, not \(value.kindName)"); return nil }
            return b
        }

        mutating func object(_ key: String) -> JSONObject? {
            guard let value = present(key, required: false) else { return nil }
            guard let o = value.objectValue else { problems.append("\"\(key)\" must be an object, not \(value.kindName)"); return nil }
            return o
        }

        /// A whole number in `range`; a fraction, a number out of range or another type is a problem.
        mutating func integer(_ key: String, in range: ClosedRange<Int64>) -> Int64? {
            guard let value = present(key, required: false) else { return nil }
            guard let i = value.intValue, range.contains(i) else {
                problems.append("\"\(key)\" must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            return i
        }

        /// The key's value; nil (and a problem when required) when absent or null.
        private mutating func present(_ key: String, required: Bool) -> JSONValue? {
            guard let value = object[key], value != .null else {
                if required { problems.append("\"\(key)\" is required") }
                return nil
            }
            return value
        }
    }
}

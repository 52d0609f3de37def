/// The four bridge endpoints, as named by a fault's `path`.
public enum RouteKind: String, Sendable, CaseIterable {
    /// `POST /v1/bridges/{id}/events`
    case events
    /// `GET /v1/bridges/{id}/commands`
    case commands
    /// `PUT /v1/bridges/{id}/state`
    case state
    /// `POST /v1/bridges/{id}/commands/{command_id}/result`
    case result
}

/// What an injected fault does.
public enum FaultKind: Sendable, Equatable {
    /// Answer `code` (with `Retry-After` when given) instead of handling the request.
    case status(code: Int, retryAfterS: Int?)
    /// Hold the request `ms` before handling it.
    case delay(ms: Int)
    /// Close the connection without an answer; `afterProcessing` handles the request first (response lost).
    case drop(afterProcessing: Bool)
    /// Sign a commands response with a wrong HMAC.
    case tamperSignature
    /// Put the previously delivered command into a commands response again.
    case duplicateCommand
    /// Answer a commands response that carries commands with this body instead, verbatim (and signed over it).
    case replaceBody(String)
    /// Answer matching events in `rejected` with code `refused_by_test`.
    case rejectEvent(eventType: String?, seq: Int64?)
    /// Answer a whole batch that contains an event of this type with `status`.
    case refuseBatch(eventType: String, status: Int)
    /// Shift platform time (Date header, signature `t`, signature window, command times) by this much.
    case clockSkew(offsetMs: Int64)

    /// The `kind` name used by the admin API.
    public var name: String {
        switch self {
        case .status: return "status"
        case .delay: return "delay"
        case .drop: return "drop"
        case .tamperSignature: return "tamper_signature"
        case .duplicateCommand: return "duplicate_command"
        case .replaceBody: return "replace_body"
        case .rejectEvent: return "reject_event"
        case .refuseBatch: return "refuse_batch_with"
        case .clockSkew: return "clock_skew"
        }
    }
}

/// One installed fault: what it does, what it applies to, and how long it lasts.
public struct Fault: Sendable, Equatable {
    /// `flt_<n>`, for `DELETE /admin/faults/{id}`.
    public var id: String
    /// What it does.
    public var kind: FaultKind
    /// Only this bridge's requests; nil for every bridge.
    public var bridge: String?
    /// Only this endpoint; nil for every bridge endpoint.
    public var path: RouteKind?
    /// Uses left; nil for no limit.
    public var remaining: Int?
    /// Real (unskewed) time after which it is gone; nil for no limit.
    public var until: Millis?
    /// How many times it has applied so far.
    public var used: Int = 0
    /// When it was installed (real time).
    public var createdAt: Millis

    /// The fault as the admin API shows it.
    public var json: JSONValue {
        var m: [String: JSONValue] = ["id": .string(id), "kind": .string(kind.name), "used": .integer(Int64(used))]
        m["bridge"] = bridge.map { .string($0) } ?? .null
        m["path"] = path.map { .string($0.rawValue) } ?? .null
        m["remaining"] = remaining.map { .integer(Int64($0)) } ?? .null
        m["until"] = until.map { .string(Timestamp.rfc3339($0)) } ?? .null
        switch kind {
        case .status(let code, let retry):
            m["status"] = .integer(Int64(code))
            if let retry { m["retry_after_s"] = .integer(Int64(retry)) }
        case .delay(let ms): m["ms"] = .integer(Int64(ms))
        case .drop(let after): m["after"] = .bool(after)
        case .tamperSignature, .duplicateCommand: break
        case .replaceBody(let body): m["body"] = .string(body)
        case .rejectEvent(let type, let seq):
            m["event_type"] = type.map { .string($0) } ?? .null
            m["seq"] = seq.map { .integer($0) } ?? .null
        case .refuseBatch(let type, let status):
            m["event_type"] = .string(type)
            m["status"] = .integer(Int64(status))
        case .clockSkew(let offset): m["offset_ms"] = .integer(offset)
        }
        return .object(m)
    }
}

/// What a `POST /admin/faults` body asks for: a fault to install, or a one-off action.
public enum FaultRequest: Sendable, Equatable {
    /// Install this fault (its id is filled in by the fault book).
    case install(Fault)
    /// Replace a bridge's credentials now (nil bridge: the only one).
    case rotateKey(bridge: String?, credentials: BridgeCredentials)
}

/// A `POST /admin/faults` body that cannot be understood, with a message that says what is expected.
public struct FaultError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension FaultRequest {
    /// The fault kinds the admin API accepts.
    public static let kinds = [
        "status", "delay", "drop", "tamper_signature", "duplicate_command", "replace_body", "reject_event",
        "refuse_batch_with", "rotate_key", "clock_skew",
    ]

    /// Reads a fault body. Unknown keys are errors, so that a typo cannot silently widen a fault.
    ///
    /// Lifetime: `count` uses and/or `for_s` seconds, whichever ends first. With neither, the one-shot kinds
    /// (`status`, `delay`, `drop`, `tamper_signature`, `duplicate_command`, `replace_body`) apply once, and the standing kinds
    /// (`reject_event`, `refuse_batch_with`, `clock_skew`) last until cleared.
    public static func parse(_ body: JSONValue, now: Millis) throws(FaultError) -> FaultRequest {
        guard let m = body.objectValue else { throw FaultError("expected a JSON object with \"kind\"") }
        guard let kindName = m["kind"]?.stringValue else {
            throw FaultError("\"kind\" is required: one of \(kinds.joined(separator: ", "))")
        }
        var allowed: Set<String> = ["kind", "bridge", "count", "for_s"]
        let bridge: String?
        if let b = m["bridge"] {
            guard let s = b.stringValue else { throw FaultError("bridge: expected a string, got \(b.typeName)") }
            bridge = s
        } else {
            bridge = nil
        }

        func int(_ key: String, _ range: ClosedRange<Int64>) throws(FaultError) -> Int64? {
            guard let v = m[key] else { return nil }
            guard let i = v.integerValue, range.contains(i) else {
                throw FaultError("\(key): expected an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return i
        }
        func string(_ key: String) throws(FaultError) -> String? {
            guard let v = m[key] else { return nil }
            guard let s = v.stringValue, !s.isEmpty else { throw FaultError("\(key): expected a non-empty string") }
            return s
        }
        func route() throws(FaultError) -> RouteKind? {
            guard let s = try string("path") else { return nil }
            guard let r = RouteKind(rawValue: s) else {
                throw FaultError("path: \"\(s)\" is not one of events, commands, state, result")
            }
            return r
        }

        let kind: FaultKind
        var path: RouteKind? = nil
        var standing = false
        switch kindName {
        case "status":
            allowed.formUnion(["status", "retry_after_s", "path"])
            guard let code = try int("status", 400...599) else {
                throw FaultError("status: required, an HTTP status such as 503, 429, 500, 401, 400, 413 or 422")
            }
            kind = .status(code: Int(code), retryAfterS: try int("retry_after_s", 0...86_400).map { Int($0) })
            path = try route()
        case "delay":
            allowed.formUnion(["ms", "path"])
            guard let ms = try int("ms", 0...600_000) else { throw FaultError("ms: required, milliseconds to wait") }
            kind = .delay(ms: Int(ms))
            path = try route()
        case "drop":
            allowed.formUnion(["path", "after"])
            var after = false
            if let a = m["after"] {
                guard let b = a.boolValue else { throw FaultError("after: expected a boolean") }
                after = b
            }
            kind = .drop(afterProcessing: after)
            path = try route()
        case "tamper_signature":
            kind = .tamperSignature
            path = .commands
        case "duplicate_command":
            kind = .duplicateCommand
            path = .commands
        case "replace_body":
            allowed.insert("body")
            // Any string, even empty or not JSON: the point is to send what a platform never would.
            guard let b = m["body"] else { throw FaultError("body: required, the answer's text verbatim") }
            guard let body = b.stringValue else { throw FaultError("body: expected a string, got \(b.typeName)") }
            kind = .replaceBody(body)
            path = .commands
        case "reject_event":
            allowed.formUnion(["event_type", "seq"])
            kind = .rejectEvent(eventType: try string("event_type"), seq: try int("seq", 0...Int64.max))
            path = .events
            standing = true
        case "refuse_batch_with":
            allowed.formUnion(["event_type", "status"])
            guard let type = try string("event_type") else { throw FaultError("event_type: required") }
            let status = try int("status", 400...599) ?? 422
            kind = .refuseBatch(eventType: type, status: Int(status))
            path = .events
            standing = true
        case "clock_skew":
            allowed.formUnion(["offset_s", "offset_ms"])
            let offsetMs: Int64
            if let ms = try int("offset_ms", -10_000_000_000...10_000_000_000) {
                offsetMs = ms
            } else if let s = m["offset_s"]?.doubleValue {
                offsetMs = Int64((s * 1000).rounded())
            } else {
                throw FaultError("offset_s (seconds) or offset_ms is required")
            }
            kind = .clockSkew(offsetMs: offsetMs)
            standing = true
        case "rotate_key":
            for key in m.keys where !["kind", "bridge", "api_key", "signing_secret"].contains(key) {
                throw FaultError("rotate_key: unknown key \"\(key)\" (allowed: bridge, api_key, signing_secret)")
            }
            guard let key = try string("api_key"), let secret = try string("signing_secret") else {
                throw FaultError("rotate_key: api_key and signing_secret are required")
            }
            return .rotateKey(bridge: bridge, credentials: BridgeCredentials(apiKey: key, signingSecret: secret))
        default:
            throw FaultError("kind \"\(kindName)\" is not one of \(kinds.joined(separator: ", "))")
        }
        for key in m.keys.sorted() where !allowed.contains(key) {
            throw FaultError("\(kindName): unknown key \"\(key)\" (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }

        let count = try int("count", 1...1_000_000).map { Int($0) }
        var until: Millis? = nil
        if let f = m["for_s"] {
            guard let s = f.doubleValue, s > 0 else { throw FaultError("for_s: expected a number of seconds > 0") }
            until = now + Millis((s * 1000).rounded())
        }
        let remaining = count ?? ((until == nil && !standing) ? 1 : nil)
        return .install(
            Fault(id: "", kind: kind, bridge: bridge, path: path, remaining: remaining, until: until, createdAt: now))
    }
}

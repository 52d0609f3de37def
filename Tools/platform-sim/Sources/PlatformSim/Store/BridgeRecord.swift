/// An event as the platform keeps it: the object the bridge sent, and when it arrived.
public struct ReceivedEvent: Sendable, Equatable {
    /// The event object exactly as parsed (`id`, `seq`, `type`, `occurred_at`, `data`, and anything else sent).
    public var event: JSONValue
    /// Platform time of arrival.
    public var receivedAt: Millis

    /// The admin API's form: the event's own members plus `received_at`.
    public var json: JSONValue {
        var m = event.objectValue ?? [:]
        m["received_at"] = .string(Timestamp.rfc3339(receivedAt))
        return .object(m)
    }
}

/// A break in a bridge's `seq` order: a number skipped, or one not above the highest seen.
public struct OrderViolation: Sendable, Equatable {
    /// `gap` (seq > previous + 1) or `backwards` (seq <= previous).
    public var kind: String
    /// The event that showed it.
    public var eventID: String
    /// Its seq.
    public var seq: Int64
    /// The highest seq seen before it.
    public var previousSeq: Int64
    /// Platform time of arrival.
    public var at: Millis

    /// The admin API's form.
    public var json: JSONValue {
        [
            "kind": .string(kind), "event_id": .string(eventID), "seq": .integer(seq),
            "previous_seq": .integer(previousSeq), "at": .string(Timestamp.rfc3339(at)),
        ]
    }
}

/// One entry of a `rejected` list.
public struct RejectedEvent: Sendable, Equatable {
    /// The event's id ("" when it had none).
    public var id: String
    /// `invalid_event` or `refused_by_test`.
    public var code: String
    /// Why, for the agent's dead-letter file.
    public var message: String

    /// The wire form `{id, code, message}`.
    public var json: JSONValue { ["id": .string(id), "code": .string(code), "message": .string(message)] }
}

/// The platform's answer to an events batch (`200 {"accepted","duplicates","rejected"}`).
public struct EventBatchAnswer: Sendable, Equatable {
    /// Ids stored now.
    public var accepted: [String] = []
    /// Ids stored before (or earlier in the same batch).
    public var duplicates: [String] = []
    /// Events refused, each with a code and message.
    public var rejected: [RejectedEvent] = []

    /// The response body.
    public var json: JSONValue {
        [
            "accepted": .array(accepted.map { .string($0) }),
            "duplicates": .array(duplicates.map { .string($0) }),
            "rejected": .array(rejected.map(\.json)),
        ]
    }
}

/// A command result as stored: the first one received, and how often one arrived.
public struct StoredResult: Sendable, Equatable {
    /// The first result body (`status`, `code`, `message`, `completed_at`, `state`).
    public var result: JSONValue
    /// Platform time of the first arrival.
    public var receivedAt: Millis
    /// Platform time of the latest arrival.
    public var lastReceivedAt: Millis
    /// How many results arrived for this command (more than 1: the bridge re-sent it).
    public var receivedCount: Int

    /// The admin API's form: the result's members plus `received_count`, `received_at`, `last_received_at`.
    public var json: JSONValue {
        var m = result.objectValue ?? [:]
        m["received_count"] = .integer(Int64(receivedCount))
        m["received_at"] = .string(Timestamp.rfc3339(receivedAt))
        m["last_received_at"] = .string(Timestamp.rfc3339(lastReceivedAt))
        return .object(m)
    }
}

/// One line of a bridge's request log.
public struct RequestLogEntry: Sendable, Equatable {
    /// HTTP method.
    public var method: String
    /// Path without the query.
    public var path: String
    /// The query string, "" when none.
    public var query: String
    /// Status answered; 0 when the connection was dropped without an answer.
    public var status: Int
    /// Platform time the request arrived.
    public var at: Millis
    /// Time taken to answer.
    public var durationMs: Int64
    /// The fault kind that shaped the answer, if any.
    public var fault: String?
    /// For a POST of events: the `seq`s it carried, in order (also when a fault answered it).
    public var seqs: [Int64]? = nil

    /// The admin API's form `{method, path, query, status, at, duration_ms, fault}`, plus `seqs` for a POST of events.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "method": .string(method), "path": .string(path), "query": .string(query), "status": .integer(Int64(status)),
            "at": .string(Timestamp.rfc3339(at)), "duration_ms": .integer(durationMs),
            "fault": fault.map { .string($0) } ?? .null,
        ]
        if let seqs { object["seqs"] = .array(seqs.map { .integer($0) }) }
        return .object(object)
    }
}

/// What happened to a posted command result.
public enum ResultOutcome: Sendable, Equatable {
    /// The first result for the command: stored.
    case stored
    /// A result was already stored; this one is counted and otherwise ignored (first result wins).
    case duplicate
    /// No command with that id was ever issued to this bridge.
    case unknownCommand
}

/// Everything the platform knows about one bridge, and the protocol's rules for changing it.
///
/// Pure: no I/O, no clock; every change takes `now`. `PlatformStore` guards it with a lock.
public struct BridgeRecord: Sendable {
    /// The bridge id.
    public let id: String
    /// Current credentials (replaced by `rotate_key`).
    public var credentials: BridgeCredentials
    /// Accepted events, in order of arrival.
    public private(set) var events: [ReceivedEvent] = []
    private var acceptedIDs: Set<String> = []
    /// How many duplicate events arrived (ids already accepted).
    public private(set) var duplicatesReceived = 0
    private var highestSeq: Int64?
    /// Breaks in seq order, in order of arrival.
    public private(set) var orderViolations: [OrderViolation] = []
    /// Commands issued, in order; a command's cursor position is its index + 1.
    public private(set) var commands: [PlatformCommand] = []
    /// The highest position a commands response has carried.
    public private(set) var deliveredUpTo = 0
    /// Results by command id.
    public private(set) var results: [String: StoredResult] = [:]
    /// The latest `PUT /state` body, nil before the first.
    public private(set) var state: JSONValue?
    /// How many `PUT /state` arrived.
    public private(set) var stateCount = 0
    /// Platform time of the latest `PUT /state`.
    public private(set) var stateLastAt: Millis?
    /// The newest requests (at most `requestLogLimit`), oldest first.
    public private(set) var requests: [RequestLogEntry] = []

    /// Older request log entries are dropped past this many.
    public static let requestLogLimit = 10_000
    /// A commands response carries at most this many commands.
    public static let commandsPerResponse = 100

    /// A bridge with no history.
    public init(id: String, credentials: BridgeCredentials) {
        self.id = id
        self.credentials = credentials
    }

    // MARK: Events

    /// Takes a batch in order: shape check, then dedupe by id, then the test's refusals, then storage.
    ///
    /// `refusedByTest(type, seq)` says whether a `reject_event` fault claims the event (and uses it). Seq order is
    /// checked over accepted events and events refused by a test (the bridge dead-letters those, so their numbers
    /// are not gaps); events with a bad shape and duplicates are left out of it.
    public mutating func receive(
        events batch: [JSONValue], now: Millis, refusedByTest: (String, Int64) -> Bool
    ) -> EventBatchAnswer {
        var answer = EventBatchAnswer()
        for raw in batch {
            let checked = EventShape.check(raw)
            guard let shape = checked.shape else {
                answer.rejected.append(
                    RejectedEvent(id: checked.id, code: "invalid_event", message: checked.problem ?? "invalid event"))
                continue
            }
            if acceptedIDs.contains(shape.id) {
                duplicatesReceived += 1
                answer.duplicates.append(shape.id)
                continue
            }
            noteOrder(id: shape.id, seq: shape.seq, now: now)
            if refusedByTest(shape.type, shape.seq) {
                answer.rejected.append(
                    RejectedEvent(
                        id: shape.id, code: "refused_by_test",
                        message: "refused by a reject_event fault installed through /admin/faults"))
                continue
            }
            acceptedIDs.insert(shape.id)
            events.append(ReceivedEvent(event: raw, receivedAt: now))
            answer.accepted.append(shape.id)
        }
        return answer
    }

    private mutating func noteOrder(id: String, seq: Int64, now: Millis) {
        if let previous = highestSeq {
            if seq <= previous {
                orderViolations.append(
                    OrderViolation(kind: "backwards", eventID: id, seq: seq, previousSeq: previous, at: now))
            } else if seq > previous + 1 {
                orderViolations.append(OrderViolation(kind: "gap", eventID: id, seq: seq, previousSeq: previous, at: now))
            }
        }
        highestSeq = max(highestSeq ?? seq, seq)
    }

    // MARK: Commands

    /// Appends a command; its position is the new count.
    public mutating func enqueue(_ command: PlatformCommand) {
        commands.append(command)
    }

    /// The commands after `position` (at most `commandsPerResponse`) and the position after them.
    ///
    /// A position past the end (a cursor from an earlier run of the platform) counts as the end, so that the
    /// bridge gets what is enqueued from now on.
    public func pending(after position: Int) -> (commands: [PlatformCommand], position: Int) {
        let start = min(max(position, 0), commands.count)
        let end = min(start + Self.commandsPerResponse, commands.count)
        return (Array(commands[start..<end]), end)
    }

    /// The command at a position (1-based), nil outside the list.
    public func command(at position: Int) -> PlatformCommand? {
        position >= 1 && position <= commands.count ? commands[position - 1] : nil
    }

    /// Notes that a response carried commands up to `position`.
    public mutating func markDelivered(upTo position: Int) {
        deliveredUpTo = max(deliveredUpTo, position)
    }

    // MARK: Results and state

    /// Stores a command's result: the first wins, repeats are counted.
    public mutating func receiveResult(commandID: String, result: JSONValue, now: Millis) -> ResultOutcome {
        guard commands.contains(where: { $0.id == commandID }) else { return .unknownCommand }
        if var stored = results[commandID] {
            stored.receivedCount += 1
            stored.lastReceivedAt = now
            results[commandID] = stored
            return .duplicate
        }
        results[commandID] = StoredResult(result: result, receivedAt: now, lastReceivedAt: now, receivedCount: 1)
        return .stored
    }

    /// Keeps the newest state snapshot.
    public mutating func putState(_ body: JSONValue, now: Millis) {
        state = body
        stateCount += 1
        stateLastAt = now
    }

    /// Appends to the request log, dropping the oldest entries past the limit.
    public mutating func log(_ entry: RequestLogEntry) {
        requests.append(entry)
        if requests.count > Self.requestLogLimit { requests.removeFirst(requests.count - Self.requestLogLimit) }
    }
}

/// The shape rules for one event and for a command result (protocol.md), with messages for `rejected`/400.
public enum EventShape {
    /// The fields the platform relies on.
    public struct Shape: Sendable, Equatable {
        /// The event id (idempotency key).
        public var id: String
        /// The per-bridge sequence number.
        public var seq: Int64
        /// The event type.
        public var type: String
    }

    /// Checks `{id: string, seq: integer >= 0, type: string, occurred_at: RFC 3339, data: object}`.
    ///
    /// Returns the shape, or the id (as far as there is one) and the first problem found.
    public static func check(_ raw: JSONValue) -> (shape: Shape?, id: String, problem: String?) {
        guard let m = raw.objectValue else { return (nil, "", "event: expected an object, got \(raw.typeName)") }
        let id = m["id"]?.stringValue ?? ""
        func fail(_ problem: String) -> (shape: Shape?, id: String, problem: String?) { (nil, id, problem) }
        guard let idValue = m["id"] else { return fail("id: missing") }
        guard let idText = idValue.stringValue, !idText.isEmpty else {
            return fail("id: expected a non-empty string, got \(idValue.typeName)")
        }
        guard let seqValue = m["seq"] else { return fail("seq: missing") }
        guard let seq = seqValue.integerValue else { return fail("seq: expected an integer, got \(seqValue.typeName)") }
        guard seq >= 0 else { return fail("seq: expected an integer >= 0, got \(seq)") }
        guard let typeValue = m["type"] else { return fail("type: missing") }
        guard let type = typeValue.stringValue, !type.isEmpty else {
            return fail("type: expected a non-empty string, got \(typeValue.typeName)")
        }
        guard let occurred = m["occurred_at"] else { return fail("occurred_at: missing") }
        guard let occurredText = occurred.stringValue else {
            return fail("occurred_at: expected an RFC 3339 string, got \(occurred.typeName)")
        }
        guard Timestamp.parseRFC3339(occurredText) != nil else {
            return fail("occurred_at: \"\(occurredText)\" is not RFC 3339 (e.g. 2026-11-29T18:00:00.123Z)")
        }
        guard let data = m["data"] else { return fail("data: missing") }
        guard data.objectValue != nil else { return fail("data: expected an object, got \(data.typeName)") }
        return (Shape(id: idText, seq: seq, type: type), idText, nil)
    }

    /// The result statuses protocol.md defines.
    public static let resultStatuses: Set<String> = ["succeeded", "failed", "rejected", "expired"]

    /// Checks a result body `{status, code?, message?, completed_at, state?}`; nil when it is fine.
    public static func checkResult(_ raw: JSONValue) -> String? {
        guard let m = raw.objectValue else { return "expected a JSON object, got \(raw.typeName)" }
        guard let status = m["status"]?.stringValue, resultStatuses.contains(status) else {
            return "status: expected one of succeeded, failed, rejected, expired"
        }
        for key in ["code", "message"] {
            if let v = m[key], v.stringValue == nil, v != .null {
                return "\(key): expected a string, got \(v.typeName)"
            }
        }
        guard let completed = m["completed_at"]?.stringValue, Timestamp.parseRFC3339(completed) != nil else {
            return "completed_at: expected an RFC 3339 time (e.g. 2026-11-29T18:00:00.123Z)"
        }
        if let state = m["state"], state.objectValue == nil, state != .null {
            return "state: expected an object, got \(state.typeName)"
        }
        return nil
    }
}

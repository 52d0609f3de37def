/// One recorded event, in protocol.md's final shape, so the uplink sends it unchanged:
/// `{"id", "seq", "type", "occurred_at", "data"}`.
public struct Event: Sendable, Equatable, Codable {
    /// The idempotency key (`evt_` + 26 Crockford base32 characters), made once when recorded.
    public var id: String
    /// Per-bridge, persisted, strictly increasing.
    public var seq: Int64
    /// The event type as on the wire (an `EventType` raw value).
    public var type: String
    /// RFC 3339 UTC with milliseconds.
    public var occurredAt: String
    public var data: JSONObject

    public init(id: String, seq: Int64, type: String, occurredAt: String, data: JSONObject) {
        self.id = id; self.seq = seq; self.type = type; self.occurredAt = occurredAt; self.data = data
    }

    enum CodingKeys: String, CodingKey {
        case id, seq, type, occurredAt = "occurred_at", data
    }

    public var eventType: EventType? { EventType(rawValue: type) }

    /// The event as one JSON value (sorted keys when encoded).
    public var json: JSONValue {
        .object(["id": .string(id), "seq": .int(seq), "type": .string(type),
                 "occurred_at": .string(occurredAt), "data": .object(data)])
    }
}

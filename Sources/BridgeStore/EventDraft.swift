import BridgeCore

/// A recorded-to-be event before the store gives it an id and a seq.
///
/// The engine's `.record(type, data)` effect plus the time it happened; `Journal.append`
/// turns drafts into `Event`s.
public struct EventDraft: Sendable, Equatable {
    /// The wire type, an `EventType` raw value (any string is stored as given).
    public var type: String
    /// When it happened, epoch milliseconds; becomes `occurred_at` and the id's time part.
    public var occurredAt: Millis
    public var data: JSONObject

    public init(type: String, occurredAt: Millis, data: JSONObject = [:]) {
        self.type = type; self.occurredAt = occurredAt; self.data = data
    }

    /// A draft of a known event type.
    public init(_ type: EventType, occurredAt: Millis, data: JSONObject = [:]) {
        self.init(type: type.rawValue, occurredAt: occurredAt, data: data)
    }
}

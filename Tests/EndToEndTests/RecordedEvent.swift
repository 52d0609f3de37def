import Foundation

/// One event as `events --json` prints it: exactly as stored in the journal (`id`, `seq`, `type`, `occurred_at`, `data`).
struct RecordedEvent: Decodable, Equatable, CustomStringConvertible {
    var id: String
    var seq: Int64
    var type: String
    var occurredAt: String
    var data: [String: JSON]

    enum CodingKeys: String, CodingKey {
        case id, seq, type, occurredAt = "occurred_at", data
    }

    /// `occurred_at` in epoch milliseconds.
    var at: Int64 { WallClock.parse(occurredAt) ?? .min }

    var description: String { "#\(seq) \(type) \(occurredAt) \(JSON.object(data))" }

    /// Parses `events --json` output (one JSON array), checking every event's shape on the way.
    static func list(_ text: String) throws -> [RecordedEvent] {
        do { return try JSONDecoder().decode([RecordedEvent].self, from: Data(text.utf8)) } catch {
            throw E2EFailure("events --json did not print an array of events (\(error)):\n\(text.prefix(2000))")
        }
    }
}

extension [RecordedEvent] {
    /// The events after `seq`, leaving out device supervision and start-up records, which arrive on their own schedule.
    func actions(after seq: Int64 = 0) -> [RecordedEvent] {
        filter { $0.seq > seq && !$0.type.hasPrefix("device.") && $0.type != "bridge.started" }
    }

    var types: [String] { map(\.type) }

    func of(_ type: String, after seq: Int64 = 0) -> [RecordedEvent] { filter { $0.type == type && $0.seq > seq } }

    var listing: String { isEmpty ? "(no events)" : map(\.description).joined(separator: "\n") }
}

/// Wall-clock milliseconds and RFC 3339 times, to compare the agent's timestamps with each other and with the test's clock.
enum WallClock {
    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// `2026-11-29T18:00:00.123Z` → epoch ms; nil when not RFC 3339 with a `Z`.
    static func parse(_ text: String) -> Int64? {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        guard let date = try? style.parse(text) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}

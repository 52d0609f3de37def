/// The state report (protocol.md "State and heartbeat", plus local-only fields;
/// docs/behaviour-decisions.md "Reports").
extension Engine {
    func report() -> JSONObject {
        [
            "partitions": .array(catalog.config.partitions.map { partitionEntry($0.id) }),
            "zones": .array(catalog.config.zones.map { zoneEntry($0.id) }),
            "relays": .array(catalog.config.relays.map { relayEntry($0.id) }),
            "devices": .array(catalog.deviceOrder.map { deviceEntry($0) }),
        ]
    }
}

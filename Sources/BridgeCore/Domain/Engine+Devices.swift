/// Supervised devices: Modbus devices and GPIO chips (behaviour.md "Devices"; docs/behaviour-decisions.md "Devices").
extension Engine {
    mutating func deviceOutcome(_ id: String, _ outcome: DeviceOutcome, at t: Millis) {
        guard let info = catalog.devices[id], var state = devices[id] else { return }
        switch outcome {
        case .ok:
            let wasOffline = state.online == false
            let announce = state.online != true
            state.lastSeen = t
            state.failures = 0
            state.online = true
            devices[id] = state
            if announce {
                record(.deviceOnline, ["device": .string(id), "kind": .string(info.kind), "address": .string(info.address)])
            }
            if wasOffline, started {
                // Levels reported while it was offline start debouncing now; zones leave trouble once they settle.
                for input in catalog.inputsOfDevice[id] ?? [] { followRaw(input, at: t) }
            }
        case .failed(let reason):
            state.failures += 1
            let goOffline = state.failures >= info.offlineAfter && state.online != false
            if goOffline { state.online = false }
            devices[id] = state
            guard goOffline else { return }
            record(.deviceOffline, ["device": .string(id), "kind": .string(info.kind), "reason": .string(reason),
                                    "last_seen": state.lastSeen.map { .string(Timestamp.rfc3339($0)) } ?? .null])
            for input in catalog.inputsOfDevice[id] ?? [] {
                // The zones keep their last reported state and go into trouble; nothing is recorded for them.
                inputs[input]?.level = nil
                inputs[input]?.pending = nil
                inputs[input]?.raw = nil
            }
            checkSettled(at: t)
        }
    }

    func deviceEntry(_ id: String) -> JSONValue {
        let info = catalog.devices[id]
        let state = devices[id] ?? DeviceRuntime()
        return ["id": .string(id), "online": .bool(state.online == true),
                "last_seen": state.lastSeen.map { .string(Timestamp.rfc3339($0)) } ?? .null,
                "kind": .string(info?.kind ?? ""), "address": .string(info?.address ?? "")]
    }
}

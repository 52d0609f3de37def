/// Debounce and start-up settling (behaviour.md "Inputs" and "Start-up";
/// docs/behaviour-decisions.md "Zones and inputs" and "Start-up").
extension Engine {
    /// A raw level from the board. While the input's device is offline the level is only remembered:
    /// it starts debouncing when the device is back.
    mutating func rawChanged(_ id: String, level: Bool?, at t: Millis) {
        guard inputs[id] != nil else { return }
        inputs[id]?.raw = level
        guard started, !deviceOffline(ofInput: id) else { return }
        followRaw(id, at: t)
    }

    /// Starts, keeps or cancels the input's pending commit so that the debounced level follows the raw one.
    mutating func followRaw(_ id: String, at t: Millis) {
        guard let state = inputs[id], let cfg = catalog.inputs[id] else { return }
        guard let raw = state.raw else { inputs[id]?.pending = nil; return }
        if raw == state.level {
            // Back to the committed level before the debounce period ended: the change never happened.
            inputs[id]?.pending = nil
        } else if state.pending?.level != raw {
            inputs[id]?.pending = InputRuntime.Pending(level: raw, at: t + Millis(cfg.debounceMs))
        }
        if let pending = inputs[id]?.pending, pending.at <= t { commit(id, at: t) }
    }

    /// The pending level has held for the debounce period: it is the input's level now.
    mutating func commit(_ id: String, at t: Millis) {
        guard let pending = inputs[id]?.pending else { return }
        inputs[id]?.pending = nil
        inputs[id]?.level = pending.level
        inputs[id]?.lastChange = t
        inputCommits &+= 1
        if settled {
            levelCommitted(id, level: pending.level, at: t)
        } else {
            checkSettled(at: t)
        }
    }

    /// Settling ends when no input is still waiting for its first level; then every zone is evaluated once.
    mutating func checkSettled(at t: Millis) {
        guard started, !settled else { return }
        if inputs.values.contains(where: { $0.level == nil && $0.pending != nil }) { return }
        settled = true
        // Keyswitch partitions first: a panel armed while the agent was stopped is armed before its zones are judged.
        for p in catalog.config.partitions {
            if let ks = p.keyswitch, let level = inputs[ks.armedInput]?.level {
                keyswitchInputLevel(p.id, level: level, at: t)
            }
        }
        for z in catalog.config.zones {
            if let level = inputs[z.input]?.level { zoneInputLevel(z.id, level: level, at: t) }
        }
    }

    /// A settled input's new debounced level reaches keyswitch partitions, then zones.
    mutating func levelCommitted(_ id: String, level: Bool, at t: Millis) {
        for p in catalog.config.partitions where p.keyswitch?.armedInput == id {
            keyswitchInputLevel(p.id, level: level, at: t)
        }
        for zone in catalog.zonesByInput[id] ?? [] {
            zoneInputLevel(zone, level: level, at: t)
        }
    }

    func deviceOffline(ofInput id: String) -> Bool {
        guard let device = catalog.deviceOfInput[id] else { return false }
        return devices[device]?.online == false
    }

    /// Why an input gives no level a zone can use, nil when it does.
    func inputTrouble(_ id: String) -> String? {
        if deviceOffline(ofInput: id), let device = catalog.deviceOfInput[id] { return "device \(device) offline" }
        guard let state = inputs[id], state.level == nil else { return nil }
        if state.pending != nil { return settled ? "input \(id) settling" : nil }
        return "input \(id) unreadable"
    }

    func reportInputs() -> [InputStatus] {
        catalog.inputOrder.map { id in
            let s = inputs[id] ?? InputRuntime()
            return InputStatus(id: id, active: s.level, raw: s.raw, lastChange: s.lastChange,
                               zone: catalog.zonesByInput[id]?.first)
        }
    }
}

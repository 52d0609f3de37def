/// Zones: their events, the alarm rules of behaviour.md's zone table, swinger shutdown and bypass
/// (docs/behaviour-decisions.md "Exit and entry delays", "Alarms and the siren", "Disarm and bypass").
extension Engine {
    /// A zone's input has a new debounced level (or a first one after trouble or start-up).
    mutating func zoneInputLevel(_ id: String, level: Bool, at t: Millis) {
        guard let cfg = catalog.zones[id], let state = zones[id], state.faulted != level else { return }
        zones[id]?.faulted = level
        record(level ? .zoneFaulted : .zoneRestored,
               ["zone": .string(id), "partition": .string(cfg.partition), "input": .string(cfg.input)])
        if level { zoneFaulted(id, at: t) }
    }

    /// The alarm rules for a fault of `id` in its partition's current state.
    mutating func zoneFaulted(_ id: String, at t: Millis) {
        guard let cfg = catalog.zones[id], let zone = zones[id], !zone.bypassed,
              let p = partitions[cfg.partition], let pcfg = catalog.partitions[cfg.partition] else { return }
        switch cfg.type {
        case .monitor:
            return
        case .twentyFourHour, .fire, .panic:
            raiseAlarm(id, at: t)
        case .instant:
            if p.status.isArmed && !p.inExitGrace { raiseAlarm(id, at: t) }
        case .entryExit:
            switch p.status {
            case .armedAway, .armedStay:
                if p.inExitGrace {
                    return
                } else if p.entryEndsAt != nil {
                    joinEntryDelay(id, partition: cfg.partition)
                } else if pcfg.entryDelayS == 0 {
                    raiseAlarm(id, at: t)
                } else {
                    partitions[cfg.partition]?.entryEndsAt = t + Millis(pcfg.entryDelayS) * 1000
                    partitions[cfg.partition]?.entryZones = [id]
                }
            case .alarm:
                raiseAlarm(id, at: t)
            case .disarmed, .arming:
                return
            }
        case .interior:
            guard p.mode == .away else { return }
            switch p.status {
            case .armedAway:
                if p.inExitGrace { return }
                if p.entryEndsAt != nil { joinEntryDelay(id, partition: cfg.partition) } else { raiseAlarm(id, at: t) }
            case .alarm:
                raiseAlarm(id, at: t)
            default:
                return
            }
        }
    }

    mutating func joinEntryDelay(_ id: String, partition: String) {
        if partitions[partition]?.entryZones.contains(id) == false { partitions[partition]?.entryZones.append(id) }
    }

    /// `alarm.created` for the zone (unless past its swinger limit), the partition into `alarm`, the siren on.
    mutating func raiseAlarm(_ id: String, at t: Millis) {
        guard let cfg = catalog.zones[id], let zone = zones[id], zone.alarms < cfg.swingerLimit else { return }
        zones[id]?.alarms += 1
        // A zone that alarms on its own no longer waits for the entry delay (no second alarm when it runs out).
        partitions[cfg.partition]?.entryZones.removeAll { $0 == id }
        let kind: String
        switch cfg.type {
        case .twentyFourHour: kind = "tamper"
        case .fire: kind = "fire"
        case .panic: kind = "panic"
        default: kind = "burglary"
        }
        record(.alarmCreated, ["alarm_id": .string(makeAlarmID()), "partition": .string(cfg.partition),
                               "zone": .string(id), "kind": .string(kind)])
        if partitions[cfg.partition]?.status.isArmed == true { partitions[cfg.partition]?.status = .alarm }
        soundSiren(cfg.partition, at: t)
    }

    /// Zones of a partition that stop it arming in `mode`, with why, in configuration order.
    func zonesNotReady(_ partition: String, mode: ArmMode) -> [(zone: String, why: String)] {
        var result: [(zone: String, why: String)] = []
        for id in catalog.zonesByPartition[partition] ?? [] {
            guard let cfg = catalog.zones[id], let state = zones[id], !state.bypassed, cfg.type != .monitor,
                  !(mode == .stay && cfg.type == .interior) else { continue }
            if let trouble = inputTrouble(cfg.input) {
                result.append((id, "trouble: \(trouble)"))
            } else if state.faulted {
                result.append((id, "faulted"))
            }
        }
        return result
    }

    /// True when the zone's input gives no usable level (device offline, unreadable).
    func zoneInTrouble(_ id: String) -> Bool {
        guard let cfg = catalog.zones[id] else { return false }
        return inputTrouble(cfg.input) != nil
    }

    mutating func submitBypass(_ id: String, bypass: Bool, origin: Origin, ticket: Ticket) {
        guard let cfg = catalog.zones[id], let state = zones[id] else {
            out.append(.complete(ticket, .rejected(
                "unknown_target", "no zone \"\(id)\" (zones: \(SiteCatalog.listing(catalog.config.zones.map(\.id))))")))
            return
        }
        if bypass && !cfg.bypassable {
            out.append(.complete(ticket, RequestResult(
                status: .rejected, code: "not_bypassable",
                message: "zone \(id) (\(cfg.type.rawValue)) is not bypassable", state: zoneEntry(id))))
            return
        }
        guard state.bypassed != bypass else {
            let message = "zone \(id) is already \(bypass ? "bypassed" : "not bypassed")"
            out.append(.complete(ticket, .succeeded(message, state: zoneEntry(id))))
            return
        }
        setBypass(id, bypass, origin: origin)
        out.append(.complete(ticket, .succeeded("zone \(id) \(bypass ? "bypassed" : "unbypassed")", state: zoneEntry(id))))
    }

    mutating func setBypass(_ id: String, _ bypass: Bool, origin: Origin) {
        guard let cfg = catalog.zones[id] else { return }
        zones[id]?.bypassed = bypass
        var data = origin.eventFields
        data["zone"] = .string(id)
        data["partition"] = .string(cfg.partition)
        record(bypass ? .zoneBypassed : .zoneUnbypassed, data)
    }

    func zoneEntry(_ id: String) -> JSONValue {
        guard let cfg = catalog.zones[id] else { return .null }
        let state = zones[id] ?? ZoneRuntime()
        return ["id": .string(id), "partition": .string(cfg.partition), "state": state.faulted ? "faulted" : "normal",
                "bypassed": .bool(state.bypassed), "type": .string(cfg.type.rawValue), "input": .string(cfg.input),
                "trouble": .bool(zoneInTrouble(id))]
    }
}

/// Partitions: arming, exit and entry delays, disarm and the siren (behaviour.md "Partitions";
/// docs/behaviour-decisions.md "Arming", "Exit and entry delays", "Alarms and the siren", "Disarm and bypass").
extension Engine {
    mutating func submitArm(_ id: String, mode: ArmMode, force: Bool, origin: Origin, ticket: Ticket, at t: Millis) {
        guard let cfg = catalog.partitions[id], let p = partitions[id] else {
            out.append(.complete(ticket, unknownPartition(id)))
            return
        }
        guard settled else {
            out.append(.complete(ticket, result(.failed, "busy", "inputs are settling; try again in a moment", partition: id)))
            return
        }
        if cfg.keyswitch != nil {
            keyswitchArm(id, mode: mode, force: force, origin: origin, ticket: ticket, at: t)
            return
        }
        if let answer = armAnswerFromState(id, p, mode: mode) {
            out.append(.complete(ticket, answer))
            return
        }
        guard let bypassed = makeReady(id, mode: mode, force: force, origin: origin, ticket: ticket) else { return }

        let delayS = origin.source == .command ? cfg.remoteExitDelayS : cfg.exitDelayS
        resetSwinger(id)
        partitions[id]?.status = .arming
        partitions[id]?.mode = mode
        partitions[id]?.armOrigin = origin
        partitions[id]?.exitEndsAt = t + Millis(delayS) * 1000
        var message = delayS == 0 ? "partition \(id) armed \(mode.rawValue)"
                                  : "partition \(id) arming \(mode.rawValue), exit delay \(delayS) s"
        if !bypassed.isEmpty { message = "bypassed \(bypassed.joined(separator: ", ")); " + message }
        if delayS == 0 { exitEnded(id, at: t) }
        out.append(.complete(ticket, result(.succeeded, nil, message, partition: id)))
    }

    /// Arming is only for a disarmed partition: already armed in `mode` succeeds with nothing to do,
    /// any other state is `busy`. nil when arming may go ahead.
    func armAnswerFromState(_ id: String, _ p: PartitionRuntime, mode: ArmMode) -> RequestResult? {
        if p.status == .armed(mode) {
            return result(.succeeded, nil, "partition \(id) is already \(p.status.rawValue)", partition: id)
        }
        guard p.status == .disarmed else {
            return result(.failed, "busy", "partition \(id) is \(p.status.rawValue); disarm first", partition: id)
        }
        return nil
    }

    /// Checks readiness; with `force`, bypasses what stops arming. Returns the zones it bypassed,
    /// or nil after completing the request `failed zones_not_ready`.
    mutating func makeReady(_ id: String, mode: ArmMode, force: Bool, origin: Origin, ticket: Ticket) -> [String]? {
        let notReady = zonesNotReady(id, mode: mode)
        guard !notReady.isEmpty else { return [] }
        let blocking = force ? notReady.filter { catalog.zones[$0.zone]?.bypassable == false } : notReady
        if !blocking.isEmpty {
            let list = blocking.map { force ? "\($0.zone) (\($0.why), not bypassable)" : "\($0.zone) (\($0.why))" }
            var r = result(.failed, "zones_not_ready", "zones not ready: " + list.joined(separator: ", "), partition: id)
            r.zones = blocking.map(\.zone)
            out.append(.complete(ticket, r))
            return nil
        }
        for zone in notReady { setBypass(zone.zone, true, origin: origin) }
        return notReady.map(\.zone)
    }

    /// The exit delay is over: the partition is armed, and zones faulted now count as new faults.
    mutating func exitEnded(_ id: String, at t: Millis) {
        guard let p = partitions[id] else { return }
        partitions[id]?.exitEndsAt = nil  // always cleared: a deadline left in place would be due forever
        if p.status.isArmed && p.status != .alarm {
            // A keyswitch partition's exit grace (see `mirrorArmed`) is over: zones faulted now count.
            evaluateFaultedZones(id, at: t)
            return
        }
        guard p.status == .arming, let mode = p.mode else { return }
        let origin = p.armOrigin ?? .technician
        partitions[id]?.status = .armed(mode)
        partitions[id]?.armOrigin = nil
        recordArmed(id, mode: mode, origin: origin)
        evaluateFaultedZones(id, at: t)
    }

    /// Zones of a partition that are faulted as its exit delay ends, treated as faults that just happened.
    mutating func evaluateFaultedZones(_ id: String, at t: Millis) {
        // Entry/exit zones first, so that interior zones faulted at the same moment follow their entry delay.
        let candidates = (catalog.zonesByPartition[id] ?? []).filter { zoneID in
            guard let cfg = catalog.zones[zoneID], let z = zones[zoneID] else { return false }
            return z.faulted && !z.bypassed && !zoneInTrouble(zoneID)
                && [.instant, .entryExit, .interior].contains(cfg.type)
        }
        let ordered = candidates.filter { catalog.zones[$0]?.type == .entryExit }
            + candidates.filter { catalog.zones[$0]?.type != .entryExit }
        for zoneID in ordered { zoneFaulted(zoneID, at: t) }
    }

    mutating func recordArmed(_ id: String, mode: ArmMode, origin: Origin) {
        var data = origin.eventFields
        data["partition"] = .string(id)
        data["mode"] = .string(mode.rawValue)
        data["bypassed"] = .array(bypassedZones(id).map { .string($0) })
        record(.partitionArmed, data)
    }

    /// The entry delay ran out without a disarm: one alarm per waiting zone, in fault order.
    mutating func entryEnded(_ id: String, at t: Millis) {
        guard let p = partitions[id] else { return }
        partitions[id]?.entryEndsAt = nil
        partitions[id]?.entryZones = []
        guard p.status.isArmed else { return }
        for zone in p.entryZones where zones[zone]?.bypassed == false { raiseAlarm(zone, at: t) }
    }

    mutating func submitDisarm(_ id: String, origin: Origin, ticket: Ticket, at t: Millis) {
        guard let cfg = catalog.partitions[id], let p = partitions[id] else {
            out.append(.complete(ticket, unknownPartition(id)))
            return
        }
        if cfg.keyswitch != nil {
            keyswitchDisarm(id, origin: origin, ticket: ticket, at: t)
            return
        }
        let was = p.status
        disarmPartition(id, origin: origin, at: t)
        let message = was == .disarmed ? "partition \(id) was already disarmed" : "partition \(id) disarmed"
        out.append(.complete(ticket, result(.succeeded, nil, message, partition: id)))
    }

    /// Disarm and its side effects: delays and alarm cleared, `partition.disarmed` (if it was not),
    /// siren released, bypasses cleared, swinger counts reset.
    mutating func disarmPartition(_ id: String, origin: Origin, at t: Millis) {
        guard let p = partitions[id] else { return }
        partitions[id]?.status = .disarmed
        partitions[id]?.mode = nil
        partitions[id]?.exitEndsAt = nil
        partitions[id]?.entryEndsAt = nil
        partitions[id]?.entryZones = []
        partitions[id]?.armOrigin = nil
        if p.status != .disarmed {
            var data = origin.eventFields
            data["partition"] = .string(id)
            record(.partitionDisarmed, data)
        }
        silenceSiren(id, origin: origin, at: t)
        for zone in bypassedZones(id) { setBypass(zone, false, origin: origin) }
        resetSwinger(id)
    }

    /// On an alarm: the partition's siren on for `timeout_s` (bounded by its `max_on_ms`), unless already on.
    mutating func soundSiren(_ id: String, at t: Millis) {
        guard let siren = catalog.partitions[id]?.siren, let relay = relays[siren.relay],
              !relay.on, relay.pending == nil else { return }
        _ = activateRelay(siren.relay, .pulse(siren.timeoutS * 1000), origin: Origin(source: .rule), ticket: nil, at: t)
    }

    /// On disarm: the siren off, unless another partition sharing it is still in alarm.
    mutating func silenceSiren(_ id: String, origin: Origin, at t: Millis) {
        guard let siren = catalog.partitions[id]?.siren else { return }
        let neededElsewhere = (catalog.sirenOf[siren.relay] ?? []).contains { $0 != id && partitions[$0]?.status == .alarm }
        guard !neededElsewhere else { return }
        cancelPendingActivation(siren.relay, because: "partition \(id) was disarmed")
        if relays[siren.relay]?.on == true { release(siren.relay, reason: origin.releaseReason, commandID: origin.commandID, at: t) }
    }

    mutating func resetSwinger(_ id: String) {
        for zone in catalog.zonesByPartition[id] ?? [] { zones[zone]?.alarms = 0 }
    }

    func bypassedZones(_ id: String) -> [String] {
        (catalog.zonesByPartition[id] ?? []).filter { zones[$0]?.bypassed == true }
    }

    func unknownPartition(_ id: String) -> RequestResult {
        .rejected("unknown_target",
                  "no partition \"\(id)\" (partitions: \(SiteCatalog.listing(catalog.config.partitions.map(\.id))))")
    }

    /// A result whose `state` is the partition's entry of the state report.
    func result(_ status: RequestResult.Status, _ code: String?, _ message: String, partition id: String) -> RequestResult {
        RequestResult(status: status, code: code, message: message, state: partitionEntry(id))
    }

    func partitionEntry(_ id: String) -> JSONValue {
        guard let p = partitions[id] else { return .null }
        var entry: JSONObject = ["id": .string(id), "state": .string(p.status.rawValue),
                                 "bypassed": .array(bypassedZones(id).map { .string($0) })]
        if let mode = p.mode { entry["mode"] = .string(mode.rawValue) }
        if let exit = p.exitEndsAt { entry["exit_ends_at"] = .string(Timestamp.rfc3339(exit)) }
        if let entryEnd = p.entryEndsAt { entry["entry_ends_at"] = .string(Timestamp.rfc3339(entryEnd)) }
        return .object(entry)
    }
}

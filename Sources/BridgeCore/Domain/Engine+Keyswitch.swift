/// Keyswitch partitions: arming an existing panel through a relay and mirroring its armed-status
/// input (behaviour.md "Partitions"; docs/behaviour-decisions.md "Keyswitch partitions").
extension Engine {
    mutating func keyswitchArm(_ id: String, mode: ArmMode, force: Bool, origin: Origin, ticket: Ticket, at t: Millis) {
        guard let ks = catalog.partitions[id]?.keyswitch, let p = partitions[id] else { return }
        if let busy = keyswitchBusy(id, p) {
            out.append(.complete(ticket, result(.failed, "busy", busy, partition: id)))
            return
        }
        if let answer = armAnswerFromState(id, p, mode: mode) {
            out.append(.complete(ticket, answer))
            return
        }
        if let unreadable = armedInputTrouble(ks) {
            out.append(.complete(ticket, result(.failed, "hardware_error", unreadable, partition: id)))
            return
        }
        guard makeReady(id, mode: mode, force: force, origin: origin, ticket: ticket) != nil else { return }
        drive(ks, on: true, origin: origin, partition: id, ticket: ticket, pending: KeyswitchPending(
            ticket: ticket, arm: mode, origin: origin, deadline: t + Millis(ks.confirmTimeoutS) * 1000), at: t)
    }

    mutating func keyswitchDisarm(_ id: String, origin: Origin, ticket: Ticket, at t: Millis) {
        guard let ks = catalog.partitions[id]?.keyswitch, let p = partitions[id] else { return }
        if let busy = keyswitchBusy(id, p) {
            out.append(.complete(ticket, result(.failed, "busy", busy, partition: id)))
            return
        }
        if p.status == .disarmed {
            // Nothing to ask of the panel, but a disarm still silences the siren and clears bypasses.
            disarmPartition(id, origin: origin, at: t)
            out.append(.complete(ticket, result(.succeeded, nil, "partition \(id) was already disarmed", partition: id)))
            return
        }
        if let unreadable = armedInputTrouble(ks) {
            out.append(.complete(ticket, result(.failed, "hardware_error", unreadable, partition: id)))
            return
        }
        drive(ks, on: false, origin: origin, partition: id, ticket: ticket, pending: KeyswitchPending(
            ticket: ticket, arm: nil, origin: origin, deadline: t + Millis(ks.confirmTimeoutS) * 1000), at: t)
    }

    func keyswitchBusy(_ id: String, _ p: PartitionRuntime) -> String? {
        guard settled else { return "inputs are settling; try again in a moment" }
        guard let pending = p.keyswitchPending else { return nil }
        return "partition \(id) is waiting for the panel to confirm an earlier \(pending.arm == nil ? "disarm" : "arm")"
    }

    func armedInputTrouble(_ ks: SiteConfig.Keyswitch) -> String? {
        inputTrouble(ks.armedInput).map { "the panel's armed-status input \(ks.armedInput) gives no level (\($0))" }
    }

    /// Works the keyswitch relay (a pulse, or hold on/off) and waits for the panel.
    mutating func drive(_ ks: SiteConfig.Keyswitch, on: Bool, origin: Origin, partition id: String, ticket: Ticket,
                        pending: KeyswitchPending, at t: Millis) {
        if ks.hold && !on {
            cancelPendingActivation(ks.relay, because: "partition \(id) is being disarmed")
            if relays[ks.relay]?.on == true { release(ks.relay, reason: origin.releaseReason, commandID: origin.commandID, at: t) }
        } else {
            let activation: Activation = ks.hold ? .latch : .pulse(ks.pulseMs)
            if case .busy(let why) = activateRelay(ks.relay, activation, origin: origin, ticket: nil, at: t) {
                out.append(.complete(ticket, result(.failed, "busy", why, partition: id)))
                return
            }
        }
        partitions[id]?.keyswitchPending = pending
    }

    /// The panel's armed-status input has a (new) debounced level: a confirmation, or the keypad.
    mutating func keyswitchInputLevel(_ id: String, level: Bool, at t: Millis) {
        guard let p = partitions[id] else { return }
        let armed = p.status != .disarmed
        guard level != armed else { return }
        if let pending = p.keyswitchPending, (pending.arm != nil) == level {
            partitions[id]?.keyswitchPending = nil
            if let mode = pending.arm {
                mirrorArmed(id, mode: mode, origin: pending.origin, at: t)
                out.append(.complete(pending.ticket, result(.succeeded, nil, "partition \(id) armed \(mode.rawValue) (panel confirmed)", partition: id)))
            } else {
                disarmPartition(id, origin: pending.origin, at: t)
                out.append(.complete(pending.ticket, result(.succeeded, nil, "partition \(id) disarmed (panel confirmed)", partition: id)))
            }
        } else if level {
            mirrorArmed(id, mode: .away, origin: Origin(source: .keyswitch), at: t)
        } else {
            disarmPartition(id, origin: Origin(source: .keyswitch), at: t)
        }
    }

    /// The panel is armed (`partition.armed` now). The panel runs its own exit delay, and people are walking
    /// out through zones the bridge watches too: for the partition's exit delay (`remote_exit_delay_s` when a
    /// platform command armed it) its entry/exit, interior and instant zones are ignored as in an exit delay,
    /// then the ones still faulted count, as at the end of any exit delay. 24h, fire and panic zones are never
    /// ignored.
    mutating func mirrorArmed(_ id: String, mode: ArmMode, origin: Origin, at t: Millis) {
        resetSwinger(id)
        partitions[id]?.status = .armed(mode)
        partitions[id]?.mode = mode
        recordArmed(id, mode: mode, origin: origin)
        if let cfg = catalog.partitions[id] {
            let graceS = origin.source == .command ? cfg.remoteExitDelayS : cfg.exitDelayS
            if graceS > 0 { partitions[id]?.exitEndsAt = t + Millis(graceS) * 1000 }
        }
    }

    /// The panel did not follow in time: the request fails and a held relay goes back.
    mutating func keyswitchTimedOut(_ id: String, at t: Millis) {
        guard let ks = catalog.partitions[id]?.keyswitch, let pending = partitions[id]?.keyswitchPending else { return }
        partitions[id]?.keyswitchPending = nil
        if ks.hold {
            if pending.arm != nil {
                cancelPendingActivation(ks.relay, because: "the panel did not confirm")
                if relays[ks.relay]?.on == true { release(ks.relay, reason: pending.origin.releaseReason, commandID: pending.origin.commandID, at: t) }
            } else {
                _ = activateRelay(ks.relay, .latch, origin: pending.origin, ticket: nil, at: t)
            }
        }
        let what = pending.arm == nil ? "disarming" : "arming"
        let level = pending.arm == nil ? "active" : "inactive"
        out.append(.complete(pending.ticket, result(
            .failed, "not_confirmed",
            "the panel did not confirm \(what) within \(ks.confirmTimeoutS) s (input \(ks.armedInput) stayed \(level))",
            partition: id)))
    }
}

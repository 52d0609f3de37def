/// Restoring the snapshot, the power-on plan of the relays, start-up and shutdown.
extension Engine {
    /// What start-up does with one relay.
    struct RelayStartStep: Sendable {
        enum Event: Sendable, Equatable {
            case none
            /// power_on `on` brings it on: `relay.activated` source `startup`.
            case activated
            /// It was on, but a deadline passed while stopped or its interlock group allows only one.
            case deactivated(ReleaseReason, interlock: String?)
        }
        var relay: String
        var state: RelayRuntime
        var event: Event
    }

    /// Loads the snapshot into the runtime state (ids the configuration no longer has are ignored).
    mutating func restore(_ saved: PersistedState?) {
        for id in catalog.inputOrder { inputs[id] = InputRuntime() }
        for z in catalog.config.zones {
            var state = ZoneRuntime()
            if let s = saved?.zones[z.id] {
                state.faulted = s.faulted
                state.bypassed = s.bypassed && z.bypassable
                state.alarms = max(0, s.alarms ?? 0)
            }
            zones[z.id] = state
        }
        for p in catalog.config.partitions {
            var state = PartitionRuntime()
            if let s = saved?.partitions[p.id] {
                state.status = s.state
                state.mode = s.mode
                if state.mode == nil {
                    state.mode = s.state == .armedStay ? .stay : (s.state == .disarmed ? nil : .away)
                }
                if s.state == .arming {
                    // An arming partition always has an end to its exit delay; without one it ends at once.
                    state.exitEndsAt = s.exitEndsAt ?? .min
                    state.armOrigin = Origin(source: s.armSource ?? .technician, commandID: s.armCommandID)
                    if p.keyswitch != nil { state.status = .disarmed; state.mode = nil; state.exitEndsAt = nil }
                }
                if s.state.isArmed, let entry = s.entryEndsAt {
                    let waiting = (s.entryZones ?? []).filter { catalog.zones[$0]?.partition == p.id }
                    if !waiting.isEmpty { state.entryEndsAt = entry; state.entryZones = waiting }
                }
            }
            partitions[p.id] = state
        }
        for id in catalog.deviceOrder {
            var state = DeviceRuntime()
            if let s = saved?.devices[id] { state.online = s.online; state.lastSeen = s.lastSeen }
            devices[id] = state
        }
        // Until `start` knows the time no saved deadline counts as passed, and power_on `on` has not acted yet.
        for step in startupRelayPlan(now: .min) {
            relays[step.relay] = step.event == .activated ? RelayRuntime() : step.state
        }
        // What `restoredSummary` says before `start`; `start` drops relays whose deadline has passed by then.
        summaryRelaysOn = catalog.config.relays.map(\.id).filter { relays[$0]?.on == true }
    }

    /// Which relays come up on, and with which deadlines, at `now` (docs/behaviour-decisions.md "Relays").
    func startupRelayPlan(now: Millis) -> [RelayStartStep] {
        var steps: [RelayStartStep] = []
        var groupHolder: [String: String] = [:]
        for cfg in catalog.config.relays {
            var state = RelayRuntime()
            var event = RelayStartStep.Event.none
            // The relay as it was saved (on, with its deadlines), and whether one of them passed while stopped.
            let saved = restored?.relays[cfg.id].map(RelayRuntime.init(restoring:))
            let deadlinePassed = saved?.releaseAt.map { $0 <= now } ?? false
            let sirenInAlarm = (catalog.sirenOf[cfg.id] ?? []).contains { restored?.partitions[$0]?.state == .alarm }
            var fromSaved = false
            if var saved, cfg.powerOn != .off || sirenInAlarm {
                fromSaved = true
                if now > .min {
                    // A saved deadline is kept, never lengthened: but none lies further ahead than the longest the
                    // relay may be on from now (a snapshot from a far future clock, or a hand-edited one), so
                    // max_on_ms holds whatever the file says.
                    let longest = now + Millis(cfg.maxOnMs ?? Self.longestPulseMs)
                    saved.maxOnEndsAt = min(saved.maxOnEndsAt ?? longest, longest)
                    saved.pulseEndsAt = saved.pulseEndsAt.map { min($0, longest) }
                }
                state = saved
                if deadlinePassed {
                    event = .deactivated(saved.releaseReason, interlock: nil)
                    state = RelayRuntime()
                }
            } else if cfg.powerOn == .on {
                state.on = true
                state.maxOnEndsAt = cfg.maxOnMs.map { now + Millis($0) }
                event = .activated
            } else if let saved, restored?.stoppedCleanly != true || cfg.safeState == .on {
                // On when the agent stopped without releasing it (kill -9, a power cut, or a safe_state `on`),
                // and power_on `off` brings it up off: the journal says so, or its last word would be "on".
                event = .deactivated(deadlinePassed ? saved.releaseReason : .shutdown, interlock: nil)
            }
            if state.on, let group = cfg.interlock {
                if let holder = groupHolder[group] {
                    state = RelayRuntime()
                    event = fromSaved ? .deactivated(.command, interlock: holder) : .none
                } else {
                    groupHolder[group] = cfg.id
                }
            }
            steps.append(RelayStartStep(relay: cfg.id, state: state, event: event))
        }
        return steps
    }

    /// The longest pulse a command or a technician may ask for (protocol.md `duration_ms`), which also bounds how
    /// long a restored relay without `max_on_ms` stays on.
    static var longestPulseMs: Int { 86_400_000 }

    mutating func beginStart(levels: [String: Bool?], now: Millis) {
        // Saved exit and entry delays end no later than a full delay from now (a damaged or far-future snapshot
        // must not hold a partition arming, or an alarm back, for centuries).
        for p in catalog.config.partitions {
            guard var state = partitions[p.id] else { continue }
            let exitLongest = now + Millis(max(p.exitDelayS, p.remoteExitDelayS)) * 1000
            state.exitEndsAt = state.exitEndsAt.map { min($0, exitLongest) }
            state.entryEndsAt = state.entryEndsAt.map { min($0, now + Millis(p.entryDelayS) * 1000) }
            partitions[p.id] = state
        }
        let plan = startupRelayPlan(now: now)
        summaryRelaysOn = plan.filter { $0.state.on && $0.event != .activated }.map(\.relay)
        for step in plan {
            relays[step.relay] = step.state
            guard let output = catalog.relays[step.relay]?.output else { continue }
            switch step.event {
            case .none:
                break
            case .activated:
                out.append(.setOutput(output: output, active: true))
                record(.relayActivated, ["relay": .string(step.relay), "mode": "latch", "source": "startup"])
            case .deactivated(let reason, let holder):
                out.append(.setOutput(output: output, active: false))
                var data: JSONObject = ["relay": .string(step.relay), "reason": .string(reason.rawValue)]
                if let holder { data["interlock"] = .string(holder) }
                record(.relayDeactivated, data)
            }
        }

        // Every readable input starts its first debounce period; those with debounce 0 commit in the
        // `runDue` below, after delays that ended while the agent was stopped (their deadlines are earlier).
        for id in catalog.inputOrder {
            let raw = levels[id] ?? nil
            inputs[id]?.raw = raw
            if let raw, !deviceOffline(ofInput: id), let cfg = catalog.inputs[id] {
                inputs[id]?.pending = InputRuntime.Pending(level: raw, at: now + Millis(cfg.debounceMs))
            }
        }
        runDue(upTo: now)
        checkSettled(at: now)
    }

    /// Relays to their safe states; waiting requests fail.
    mutating func shutDown(at t: Millis) {
        relaysBeforeShutdown = relays
        for cfg in catalog.config.relays {
            if let pending = relays[cfg.id]?.pending {
                relays[cfg.id]?.pending = nil
                if let ticket = pending.ticket {
                    out.append(.complete(ticket, RequestResult(
                        status: .failed, code: "busy",
                        message: "the agent stopped before relay \(cfg.id) was switched on", state: relayEntry(cfg.id))))
                }
            }
        }
        for p in catalog.config.partitions {
            if let pending = partitions[p.id]?.keyswitchPending {
                partitions[p.id]?.keyswitchPending = nil
                out.append(.complete(pending.ticket, RequestResult(
                    status: .failed, code: "not_confirmed",
                    message: "the agent stopped before the panel confirmed", state: partitionEntry(p.id))))
            }
        }
        for cfg in catalog.config.relays {
            let on = relays[cfg.id]?.on ?? false
            switch cfg.safeState {
            case .off where on:
                release(cfg.id, reason: .shutdown, at: t)
            case .on where !on:
                let groupBusy = cfg.interlock.map { group in
                    (catalog.interlockGroups[group] ?? []).contains { $0 != cfg.id && relays[$0]?.on == true }
                } ?? false
                guard !groupBusy else { continue }
                relays[cfg.id] = RelayRuntime(on: true)
                out.append(.setOutput(output: cfg.output, active: true))
                record(.relayActivated, ["relay": .string(cfg.id), "mode": "latch", "source": "rule"])
            default:
                break
            }
        }
    }

    func snapshot() -> PersistedState {
        var state = PersistedState()
        for p in catalog.config.partitions {
            guard let r = partitions[p.id] else { continue }
            state.partitions[p.id] = PersistedState.Partition(
                state: r.status, mode: r.mode, exitEndsAt: r.exitEndsAt, entryEndsAt: r.entryEndsAt,
                entryZones: r.entryZones.isEmpty ? nil : r.entryZones,
                armSource: r.armOrigin?.source, armCommandID: r.armOrigin?.commandID)
        }
        for z in catalog.config.zones {
            guard let r = zones[z.id], r.faulted || r.bypassed || r.alarms > 0 else { continue }
            state.zones[z.id] = PersistedState.Zone(faulted: r.faulted, bypassed: r.bypassed, alarms: r.alarms > 0 ? r.alarms : nil)
        }
        let relayStates = relaysBeforeShutdown ?? relays
        state.stoppedCleanly = relaysBeforeShutdown != nil
        for cfg in catalog.config.relays {
            guard let r = relayStates[cfg.id], r.on else { continue }
            state.relays[cfg.id] = PersistedState.Relay(pulseUntil: r.pulseEndsAt, maxOnUntil: r.maxOnEndsAt)
        }
        for id in catalog.deviceOrder {
            guard let d = devices[id], let online = d.online else { continue }
            state.devices[id] = PersistedState.Device(online: online, lastSeen: d.lastSeen)
        }
        return state
    }

    func summary() -> JSONValue {
        guard let restored else { return ["snapshot": false] }
        var parts: JSONObject = [:]
        for p in catalog.config.partitions {
            parts[p.id] = .string((restored.partitions[p.id]?.state ?? .disarmed).rawValue)
        }
        let bypassed = catalog.config.zones.map(\.id).filter { zones[$0]?.bypassed == true }
        return ["snapshot": true, "partitions": .object(parts),
                "relays_on": .array(summaryRelaysOn.map { .string($0) }),
                "bypassed": .array(bypassed.map { .string($0) })]
    }
}

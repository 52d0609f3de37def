/// Relays: latch and pulse, `max_on_ms`, interlock groups (behaviour.md "Relays";
/// docs/behaviour-decisions.md "Relays").
extension Engine {
    enum ActivationOutcome: Sendable, Equatable {
        /// On now (or its pulse restarted).
        case done
        /// Waiting for the interlock gap; it is energised (and its ticket completed) by `advance`.
        case pending
        case busy(String)
    }

    mutating func submitRelayActivate(_ id: String, durationMs: Int?, pulseOnly: Bool, origin: Origin, ticket: Ticket, at t: Millis) {
        guard let cfg = catalog.relays[id] else {
            out.append(.complete(ticket, unknownRelay(id)))
            return
        }
        if let d = durationMs, d <= 0 {
            out.append(.complete(ticket, .rejected("invalid_params", "duration_ms must be a positive number of milliseconds (got \(d))")))
            return
        }
        let activation: Activation
        if pulseOnly {
            activation = .pulse(durationMs ?? cfg.pulseMs ?? 1000)
        } else if let d = durationMs {
            activation = .pulse(d)
        } else {
            activation = cfg.mode == .pulse ? .pulse(cfg.pulseMs ?? 1000) : .latch
        }
        switch activateRelay(id, activation, origin: origin, ticket: ticket, at: t) {
        case .done:
            out.append(.complete(ticket, relayResult(.succeeded, nil, "relay \(id) on", id)))
        case .pending:
            break
        case .busy(let why):
            out.append(.complete(ticket, relayResult(.failed, "busy", why, id)))
        }
    }

    mutating func submitRelayDeactivate(_ id: String, origin: Origin, ticket: Ticket, at t: Millis) {
        guard catalog.relays[id] != nil, let state = relays[id] else {
            out.append(.complete(ticket, unknownRelay(id)))
            return
        }
        cancelPendingActivation(id, because: "relay.deactivate arrived during the interlock gap")
        guard state.on else {
            out.append(.complete(ticket, relayResult(.succeeded, nil, "relay \(id) was already off", id)))
            return
        }
        release(id, reason: origin.releaseReason, commandID: origin.commandID, at: t)
        out.append(.complete(ticket, relayResult(.succeeded, nil, "relay \(id) off", id)))
    }

    /// Turns a relay on, or restarts the pulse of a relay already on. In an interlock group the other
    /// relays are released first and this one waits `interlock_gap_ms`.
    mutating func activateRelay(_ id: String, _ activation: Activation, origin: Origin, ticket: Ticket?, at t: Millis) -> ActivationOutcome {
        guard let cfg = catalog.relays[id], let state = relays[id] else { return .busy("no relay \(id)") }
        if state.pending != nil { return .busy("relay \(id) is waiting for its interlock gap; try again") }
        if state.on {
            energise(id, activation, origin: origin, at: t)
            return .done
        }
        if let group = cfg.interlock {
            let others = (catalog.interlockGroups[group] ?? []).filter { $0 != id }
            if let switching = others.first(where: { relays[$0]?.pending != nil }) {
                return .busy("interlock group \(group) is switching to relay \(switching); try again")
            }
            var released = false
            for other in others where relays[other]?.on == true {
                release(other, reason: origin.releaseReason, interlock: id, commandID: origin.commandID, at: t)
                released = true
            }
            if released && cfg.interlockGapMs > 0 {
                relays[id]?.pending = PendingActivation(at: t + Millis(cfg.interlockGapMs), activation: activation,
                                                        origin: origin, ticket: ticket)
                return .pending
            }
        }
        energise(id, activation, origin: origin, at: t)
        return .done
    }

    /// On (if off) with the activation's deadlines; `relay.activated` every time.
    mutating func energise(_ id: String, _ activation: Activation, origin: Origin, at t: Millis) {
        guard let cfg = catalog.relays[id], var state = relays[id] else { return }
        let wasOn = state.on
        if !wasOn {
            state.on = true
            // max_on_ms counts from when the relay came on, whatever happens to its pulse later.
            state.maxOnEndsAt = cfg.maxOnMs.map { t + Millis($0) }
        }
        var data = origin.eventFields
        data["relay"] = .string(id)
        switch activation {
        case .pulse(let ms):
            state.pulseEndsAt = t + Millis(ms)
            data["mode"] = "pulse"
            data["duration_ms"] = .int((state.releaseAt ?? t) - t)
        case .latch:
            state.pulseEndsAt = nil
            data["mode"] = "latch"
        }
        relays[id] = state
        if !wasOn { out.append(.setOutput(output: cfg.output, active: true)) }
        record(.relayActivated, data)
    }

    /// Off, with `relay.deactivated`; `interlock` names the relay whose activation released it. `commandID`
    /// (an extension of protocol.md's `relay`, `reason`) names the platform command that caused it.
    mutating func release(_ id: String, reason: ReleaseReason, interlock: String? = nil, commandID: String? = nil, at t: Millis) {
        guard let cfg = catalog.relays[id], relays[id]?.on == true else { return }
        relays[id]?.on = false
        relays[id]?.pulseEndsAt = nil
        relays[id]?.maxOnEndsAt = nil
        out.append(.setOutput(output: cfg.output, active: false))
        var data: JSONObject = ["relay": .string(id), "reason": .string(reason.rawValue)]
        if let interlock { data["interlock"] = .string(interlock) }
        if let commandID { data["command_id"] = .string(commandID) }
        record(.relayDeactivated, data)
    }

    /// The interlock gap has passed: energise and complete the request that asked for it.
    mutating func gapEnded(_ id: String, at t: Millis) {
        guard let pending = relays[id]?.pending else { return }
        relays[id]?.pending = nil
        energise(id, pending.activation, origin: pending.origin, at: t)
        if let ticket = pending.ticket {
            out.append(.complete(ticket, relayResult(.succeeded, nil, "relay \(id) on", id)))
        }
    }

    /// Drops an activation waiting for its interlock gap; its request fails `busy`.
    mutating func cancelPendingActivation(_ id: String, because why: String) {
        guard let pending = relays[id]?.pending else { return }
        relays[id]?.pending = nil
        if let ticket = pending.ticket {
            out.append(.complete(ticket, relayResult(.failed, "busy", "relay \(id) was not switched on: \(why)", id)))
        }
    }

    func unknownRelay(_ id: String) -> RequestResult {
        .rejected("unknown_target", "no relay \"\(id)\" (relays: \(SiteCatalog.listing(catalog.config.relays.map(\.id))))")
    }

    func relayResult(_ status: RequestResult.Status, _ code: String?, _ message: String, _ id: String) -> RequestResult {
        RequestResult(status: status, code: code, message: message, state: relayEntry(id))
    }

    /// The relay's entry of the state report (`.null` for no such relay).
    public func relayEntry(_ id: String) -> JSONValue {
        guard let cfg = catalog.relays[id] else { return .null }
        let state = relays[id] ?? RelayRuntime()
        var entry: JSONObject = ["id": .string(id), "on": .bool(state.on), "output": .string(cfg.output)]
        if state.on {
            entry["mode"] = state.pulseEndsAt == nil ? "latch" : "pulse"
        } else {
            entry["mode"] = .string(cfg.mode.rawValue)
        }
        if let until = state.releaseAt { entry["until"] = .string(Timestamp.rfc3339(until)) }
        return .object(entry)
    }
}

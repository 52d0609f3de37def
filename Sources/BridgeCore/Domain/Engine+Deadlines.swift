/// The engine's deadlines: found by scanning the state (so none can be forgotten or left stale)
/// and run in time order, ties in a fixed order (inputs, exit, entry, keyswitch, relay release,
/// interlock gap; configuration order within each).
extension Engine {
    enum Due: Sendable, Equatable {
        case debounce(String)
        case exitEnd(String)
        case entryEnd(String)
        case keyswitchTimeout(String)
        case relayRelease(String)
        case interlockGap(String)
    }

    func earliestDue() -> (at: Millis, due: Due)? {
        var best: (at: Millis, due: Due)?
        func consider(_ at: Millis?, _ due: Due) {
            guard let at else { return }
            if best == nil || at < best!.at { best = (at, due) }
        }
        for id in catalog.inputOrder { consider(inputs[id]?.pending?.at, .debounce(id)) }
        for p in catalog.config.partitions { consider(partitions[p.id]?.exitEndsAt, .exitEnd(p.id)) }
        for p in catalog.config.partitions { consider(partitions[p.id]?.entryEndsAt, .entryEnd(p.id)) }
        for p in catalog.config.partitions { consider(partitions[p.id]?.keyswitchPending?.deadline, .keyswitchTimeout(p.id)) }
        for r in catalog.config.relays { consider(relays[r.id]?.releaseAt, .relayRelease(r.id)) }
        for r in catalog.config.relays { consider(relays[r.id]?.pending?.at, .interlockGap(r.id)) }
        return best
    }

    /// Runs every deadline up to `now`, each at its own time (a deadline that passed while the
    /// agent was stopped runs at start time), so effects do not depend on how often `advance` is called.
    mutating func runDue(upTo now: Millis) {
        guard started else { return }
        ranUpTo = max(ranUpTo, now)
        while let next = earliestDue(), next.at <= now {
            let t = max(next.at, startedAt)
            switch next.due {
            case .debounce(let id): commit(id, at: t)
            case .exitEnd(let id): exitEnded(id, at: t)
            case .entryEnd(let id): entryEnded(id, at: t)
            case .keyswitchTimeout(let id): keyswitchTimedOut(id, at: t)
            case .relayRelease(let id):
                if let state = relays[id] { release(id, reason: state.releaseReason, at: t) }
            case .interlockGap(let id): gapEnded(id, at: t)
            }
        }
    }
}

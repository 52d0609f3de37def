import BridgeCore
import BridgeStore
import BridgeSystem

/// Delivery: command results (their own outbox) and the journal's undelivered events in seq order; one request in
/// flight (protocol.md, Events). Results go first, an app waits for them, but at most `resultsBeforeEvents` in a
/// row while events wait: a burst of commands must not hold an alarm back (1,000 commands held zone events 5.3 s).
extension Uplink {
    static let maxBatchEvents = 100
    static let maxBatchBytes = 256 * 1024
    static let resultsBeforeEvents = 4

    enum Step: Equatable {
        case progress
        /// Back off, then send `again` as it is: protocol.md's "retry the same batch" (after a split, the part that
        /// failed). Empty for a command result, which the loop reads again from its outbox.
        case retry(retryAfterMs: Int?, again: [Event] = [])
    }

    func deliveryLoop() {
        guard let client = makeClient(timeoutMs: 30_000) else { return }
        var attempt = 0
        var again: [Event] = []  // a batch that is to be sent again as it was, events recorded since or not
        var resultsInARow = 0
        while !isStopping {
            var result: Event?
            var pending: [Event] = []
            do {
                // A batch being retried goes again as it was, without the events recorded since (it fits one request).
                let events = { () throws(StoreError) -> [Event] in
                    again.isEmpty ? try self.journal.events(after: self.journal.deliveredThrough, limit: Self.maxBatchEvents) : again
                }
                // Results first, unless `resultsBeforeEvents` went in a row: then events, if any wait.
                let eventsFirst = resultsInARow >= Self.resultsBeforeEvents
                if eventsFirst { pending = try events() }
                if pending.isEmpty { result = try results.events(after: results.deliveredThrough, limit: 1).first }
                if result == nil && pending.isEmpty && !eventsFirst { pending = try events() }
            } catch {
                noteError("cannot read the outbox: \(error)")
                guard pause(ms: 5000) else { return }
                continue
            }
            if result == nil && pending.isEmpty {
                Heap.trim()  // the outbox is empty: what a drained backlog used is free
                // Woken by new events; the timeout only guards against a missed wake-up.
                guard pause(ms: 5000, wake: { self.takeDeliveryWake() }) else { return }
                continue
            }
            let step = result.map { postResult($0, client: client) } ?? postEvents(batch(pending), client: client, retriedAuth: false)
            resultsInARow = result == nil ? 0 : resultsInARow + 1
            switch step {
            case .progress:
                attempt = 0
                if result == nil { again = [] }
            case .retry(let retryAfterMs, let batch):
                if result == nil { again = batch }
                attempt += 1
                lock.lock(); let capMs = authFailed ? 300_000 : 30_000; lock.unlock()
                guard pause(ms: nextBackoff(attempt: attempt, retryAfterMs: retryAfterMs, capMs: capMs)) else { return }
            }
        }
    }

    private func takeDeliveryWake() -> Bool {
        // Called with the lock held (from `pause`).
        defer { deliveryWake = false }
        return deliveryWake
    }

    /// The longest run of events from the head that fits one request (≤ 100 events, ≤ 256 KiB).
    func batch(_ pending: [Event]) -> [Event] {
        var out: [Event] = []
        var bytes = 16  // {"events":[]}
        for event in pending {
            let size = event.json.encoded().count + 1
            if !out.isEmpty && bytes + size > Self.maxBatchBytes { break }
            out.append(event)
            bytes += size
        }
        return out
    }

    /// POSTs a batch; splits a refused multi-event batch to find the event the platform refuses.
    func postEvents(_ events: [Event], client: HTTPClient, retriedAuth: Bool) -> Step {
        let body = JSONValue.object(["events": .array(events.map(\.json))]).encoded()
        let path = "/bridges/\(config.bridgeID)/events"
        guard case .response(let response) = send(client, method: "POST", path: path, body: body) else {
            return .retry(retryAfterMs: nil, again: events)
        }
        switch response.status {
        case 200...299:
            markHealthy()
            var rejected: [String: (String, String)] = [:]
            if !response.body.isEmpty { do {
                if let list = try JSONValue.decode(response.body)["rejected"]?.arrayValue {
                    for item in list {
                        if let id = item["id"]?.stringValue {
                            rejected[id] = (item["code"]?.stringValue ?? "rejected", item["message"]?.stringValue ?? "")
                        }
                    }
                }
            } catch {
                // The platform took the batch (2xx); only its per-event verdicts are lost. The events stay in the journal.
                Log.warning("upstream: the answer to events #\(events.first?.seq ?? 0)-#\(events.last?.seq ?? 0) cannot be read (\(error)); counted as accepted")
            } }
            for event in events {
                if let (code, message) = rejected[event.id], !deadLetter(event, code: code, message: message) {
                    return .retry(retryAfterMs: nil, again: events)  // never move on past an event that is not kept somewhere
                }
            }
            return markDelivered(events)
        case 401:
            if unauthorized("POST events", alreadyRetried: retriedAuth) {
                return postEvents(events, client: client, retriedAuth: true)
            }
            return .retry(retryAfterMs: nil, again: events)
        case 400, 413, 422:
            let reason = "HTTP \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))"
            guard events.count > 1 else {
                guard deadLetter(events[0], code: "http_\(response.status)", message: reason) else { return .retry(retryAfterMs: nil, again: events) }
                return markDelivered(events)
            }
            Log.warning("upstream: a batch of \(events.count) events was refused (\(reason)); splitting it to find the event the platform refuses")
            let half = events.count / 2
            for part in [Array(events[..<half]), Array(events[half...])] {
                let step = postEvents(part, client: client, retriedAuth: retriedAuth)
                if step != .progress { return step }  // the part that failed is the batch to send again
            }
            return .progress
        default:
            // 408, 429, 5xx, and anything unexpected: keep the batch, back off, honour Retry-After.
            noteError("POST events: HTTP \(response.status)")
            return .retry(retryAfterMs: Backoff.retryAfterMs(response.header("retry-after"), now: Posix.wallMillis()), again: events)
        }
    }

    /// POSTs one command result (`command.result` record of the results outbox) to `/commands/{id}/result`.
    func postResult(_ event: Event, client: HTTPClient, retriedAuth: Bool = false) -> Step {
        guard let id = event.data["command_id"]?.stringValue else {
            guard deadLetter(event, code: "malformed_result", message: "a command.result record without command_id") else {
                return .retry(retryAfterMs: nil)
            }
            return markDelivered([event], in: results)
        }
        var body = event.data
        body.removeValue(forKey: "command_id")
        let path = "/bridges/\(config.bridgeID)/commands/\(Self.percentEncode(id))/result"
        guard case .response(let response) = send(client, method: "POST", path: path, body: JSONValue.object(body).encoded()) else {
            return .retry(retryAfterMs: nil)
        }
        switch response.status {
        case 200...299:
            markHealthy()
            return markDelivered([event], in: results)
        case 401:
            if unauthorized("POST result", alreadyRetried: retriedAuth) { return postResult(event, client: client, retriedAuth: true) }
            return .retry(retryAfterMs: nil)
        case 400...499 where ![401, 408, 429].contains(response.status):
            guard deadLetter(event, code: "http_\(response.status)", message: String(decoding: response.body.prefix(300), as: UTF8.self)) else {
                return .retry(retryAfterMs: nil)
            }
            return markDelivered([event], in: results)
        default:
            noteError("POST result \(id): HTTP \(response.status)")
            return .retry(retryAfterMs: Backoff.retryAfterMs(response.header("retry-after"), now: Posix.wallMillis()))
        }
    }

    private func markDelivered(_ events: [Event], in outbox: Journal? = nil) -> Step {
        guard let last = events.last else { return .progress }
        do {
            try (outbox ?? journal).markDelivered(through: last.seq)
        } catch {
            noteError("cannot persist delivery progress: \(error)")
            return .retry(retryAfterMs: nil, again: outbox == nil ? events : [])
        }
        lock.lock(); delivered += events.count; lock.unlock()
        return .progress
    }

    /// Moves an event the platform refuses to the dead-letter file. False when that failed: the caller keeps it queued.
    private func deadLetter(_ event: Event, code: String, message: String) -> Bool {
        // Only the delivery thread writes dead letters: no lock held across the fsync.
        do {
            try deadLetters.add(event, code: code, message: message, at: Posix.wallMillis())
            lock.lock(); deadLetterCount = deadLetters.count; lock.unlock()
            Log.warning("upstream: event #\(event.seq) \(event.type) \(event.id) refused by the platform (\(code): \(message)); kept in \(deadLetters.path)")
            return true
        } catch {
            Log.error("upstream: cannot write the dead-letter file, the event stays queued: \(error)")
            return false
        }
    }
}

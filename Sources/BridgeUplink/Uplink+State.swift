import BridgeCore
import BridgeSystem

/// State snapshots: at start, after every reconnect, on `state.sync`, and every `heartbeat_s` (protocol.md).
/// A snapshot is never queued behind events: it has its own thread and connection, and only the newest matters.
///
/// "At start" is the first answer of the platform to any request (the start's `bridge.started` is being delivered):
/// that connection asks for a snapshot, which then reports a clock offset measured from a `Date`, not 0.
/// Should nothing answer, the first heartbeat sends it anyway.
///
/// A `state.sync` command is answered `succeeded` only once the platform has accepted (2xx) a snapshot taken after
/// the command arrived; until then it waits, through back-offs; an agent that stops first answers it `busy`.
extension Uplink {
    func stateLoop() {
        defer { answerUnsentStateSyncs() }  // a snapshot in flight at stop has put its commands back
        guard let client = makeClient(timeoutMs: 15_000) else { return }
        var attempt = 0
        var nextHeartbeat = Posix.monotonicMillis() + Int64(config.heartbeatS) * 1000
        while !isStopping {
            let wait = max(0, nextHeartbeat - Posix.monotonicMillis())
            guard pause(ms: Int(wait), wake: { self.stateRequested }) else { return }
            lock.lock(); stateRequested = false; let syncs = stateSyncs; stateSyncs = []; lock.unlock()
            guard let host else {
                lock.lock(); stateSyncs = syncs + stateSyncs; lock.unlock()
                return
            }
            let snapshot = OneShot<JSONObject>()
            host.stateSnapshot { snapshot.fulfil($0) }
            let body = JSONValue.object(snapshot.wait()).encoded()
            var retriedAuth = false
            var retryAfterMs: Int?
            var sent = false
            while true {
                guard case .response(let response) = send(client, method: "PUT", path: "/bridges/\(config.bridgeID)/state", body: body) else {
                    break
                }
                if (200...299).contains(response.status) {
                    markHealthy()
                    sent = true
                } else if response.status == 401, unauthorized("PUT state", alreadyRetried: retriedAuth) {
                    retriedAuth = true
                    continue
                } else if response.status != 401 {
                    noteError("PUT state: HTTP \(response.status)")
                    retryAfterMs = Backoff.retryAfterMs(response.header("retry-after"), now: Posix.wallMillis())
                }
                break
            }
            if sent {
                for id in syncs { finish(id, .succeeded("state sent")) }
                attempt = 0
                lock.lock(); lastHeartbeatAt = Posix.wallMillis(); lock.unlock()
                nextHeartbeat = Posix.monotonicMillis() + Int64(config.heartbeatS) * 1000
            } else {
                // Retry with a fresh snapshot after a back-off (the newest state is the only one worth sending);
                // the state.sync commands wait for it.
                lock.lock(); stateSyncs = syncs + stateSyncs; lock.unlock()
                attempt += 1
                lock.lock(); let capMs = authFailed ? 300_000 : 30_000; lock.unlock()
                nextHeartbeat = Posix.monotonicMillis() + Int64(nextBackoff(attempt: attempt, retryAfterMs: retryAfterMs, capMs: capMs))
            }
        }
    }
}

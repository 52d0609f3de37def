import Testing

@testable import PlatformSim

@Suite("Fault parsing")
struct FaultParsingTests {
    func install(_ json: JSONValue, now: Millis = 1_000) throws -> Fault {
        guard case .install(let fault) = try FaultRequest.parse(json, now: now) else {
            throw TestFailure("expected a fault to install")
        }
        return fault
    }

    @Test func statusFaultDefaultsToOnce() throws {
        let f = try install(["kind": "status", "status": 503, "retry_after_s": 7, "path": "events"])
        #expect(f.kind == .status(code: 503, retryAfterS: 7))
        #expect(f.path == .events)
        #expect(f.remaining == 1)
        #expect(f.until == nil)
    }

    @Test func countAndForSecondsSetTheLifetime() throws {
        let counted = try install(["kind": "status", "status": 429, "count": 3])
        #expect(counted.remaining == 3)
        let timed = try install(["kind": "status", "status": 500, "for_s": 2.5], now: 10_000)
        #expect(timed.remaining == nil)
        #expect(timed.until == 12_500)
        let both = try install(["kind": "delay", "ms": 10, "count": 2, "for_s": 1], now: 0)
        #expect(both.remaining == 2 && both.until == 1_000)
    }

    @Test func everyKindParses() throws {
        #expect(try install(["kind": "delay", "ms": 250]).kind == .delay(ms: 250))
        #expect(try install(["kind": "drop"]).kind == .drop(afterProcessing: false))
        #expect(try install(["kind": "drop", "after": true, "path": "result"]).kind == .drop(afterProcessing: true))
        let tamper = try install(["kind": "tamper_signature", "count": 2])
        #expect(tamper.kind == .tamperSignature && tamper.path == .commands && tamper.remaining == 2)
        #expect(try install(["kind": "duplicate_command"]).kind == .duplicateCommand)
        let reject = try install(["kind": "reject_event", "event_type": "zone.faulted", "seq": 4])
        #expect(reject.kind == .rejectEvent(eventType: "zone.faulted", seq: 4))
        #expect(reject.remaining == nil, "reject_event stands until cleared")
        let refuse = try install(["kind": "refuse_batch_with", "event_type": "alarm.created", "status": 422])
        #expect(refuse.kind == .refuseBatch(eventType: "alarm.created", status: 422) && refuse.remaining == nil)
        #expect(try install(["kind": "refuse_batch_with", "event_type": "x"]).kind == .refuseBatch(eventType: "x", status: 422))
        #expect(try install(["kind": "clock_skew", "offset_s": -3600]).kind == .clockSkew(offsetMs: -3_600_000))
        #expect(try install(["kind": "clock_skew", "offset_ms": 1500]).kind == .clockSkew(offsetMs: 1500))
        let rotate = try FaultRequest.parse(
            ["kind": "rotate_key", "bridge": "brg_a", "api_key": "k2", "signing_secret": "s2"], now: 0)
        #expect(rotate == .rotateKey(bridge: "brg_a", credentials: BridgeCredentials(apiKey: "k2", signingSecret: "s2")))
    }

    @Test(arguments: [
        ["status": 503] as JSONValue, ["kind": "teleport"], ["kind": "status"], ["kind": "status", "status": 200],
        ["kind": "status", "status": 503, "pathh": "events"], ["kind": "status", "status": 503, "path": "evnts"],
        ["kind": "delay"], ["kind": "delay", "ms": -1], ["kind": "drop", "after": "yes"],
        ["kind": "refuse_batch_with"], ["kind": "reject_event", "seq": "4"], ["kind": "status", "status": 503, "count": 0],
        ["kind": "status", "status": 503, "for_s": 0], ["kind": "rotate_key", "api_key": "k"],
        ["kind": "clock_skew"], ["kind": "tamper_signature", "path": "events"], "status",
    ])
    func refusesBadFaults(_ json: JSONValue) {
        #expect(throws: FaultError.self) { try FaultRequest.parse(json, now: 0) }
    }
}

@Suite("Fault book")
struct FaultBookTests {
    func fault(_ kind: FaultKind, bridge: String? = nil, path: RouteKind? = nil, remaining: Int? = nil, until: Millis? = nil)
        -> Fault
    {
        Fault(id: "", kind: kind, bridge: bridge, path: path, remaining: remaining, until: until, createdAt: 0)
    }

    func isStatus(_ k: FaultKind) -> Bool { if case .status = k { true } else { false } }

    @Test func countedFaultIsUsedUpThenGone() {
        var book = FaultBook()
        book.install(fault(.status(code: 503, retryAfterS: nil), remaining: 2))
        #expect(book.take(now: 0, bridge: "b", route: .events, where: isStatus)?.used == 1)
        #expect(book.take(now: 0, bridge: "b", route: .events, where: isStatus)?.used == 2)
        #expect(book.take(now: 0, bridge: "b", route: .events, where: isStatus) == nil)
        #expect(book.faults.isEmpty)
    }

    @Test func timedFaultExpires() {
        var book = FaultBook()
        book.install(fault(.status(code: 500, retryAfterS: nil), until: 5_000))
        #expect(book.take(now: 4_999, bridge: "b", route: .state, where: isStatus) != nil)
        #expect(book.take(now: 4_999, bridge: "b", route: .state, where: isStatus) != nil)
        #expect(book.take(now: 5_000, bridge: "b", route: .state, where: isStatus) == nil)
        #expect(book.active(now: 5_000).isEmpty)
    }

    @Test func bridgeAndPathFiltersApply() {
        var book = FaultBook()
        book.install(fault(.status(code: 503, retryAfterS: nil), bridge: "brg_a", path: .events, remaining: 5))
        #expect(book.take(now: 0, bridge: "brg_b", route: .events, where: isStatus) == nil)
        #expect(book.take(now: 0, bridge: "brg_a", route: .commands, where: isStatus) == nil)
        #expect(book.take(now: 0, bridge: "brg_a", route: .events, where: isStatus) != nil)
    }

    @Test func oldestMatchingFaultIsUsedFirst() {
        var book = FaultBook()
        let first = book.install(fault(.status(code: 503, retryAfterS: nil), remaining: 1))
        let second = book.install(fault(.status(code: 429, retryAfterS: 3), remaining: 1))
        #expect(first.id == "flt_1" && second.id == "flt_2")
        #expect(book.take(now: 0, bridge: "b", route: nil, where: isStatus)?.kind == .status(code: 503, retryAfterS: nil))
        #expect(book.take(now: 0, bridge: "b", route: nil, where: isStatus)?.kind == .status(code: 429, retryAfterS: 3))
    }

    @Test func newestClockSkewWinsAndClears() {
        var book = FaultBook()
        #expect(book.clockSkewMs(now: 0) == 0)
        book.install(fault(.clockSkew(offsetMs: 1_000)))
        book.install(fault(.clockSkew(offsetMs: -7_000), until: 100))
        #expect(book.clockSkewMs(now: 50) == -7_000)
        #expect(book.clockSkewMs(now: 100) == 1_000)
        let removed = book.remove(id: "flt_1")
        #expect(removed)
        #expect(book.clockSkewMs(now: 100) == 0)
        let removedAgain = book.remove(id: "flt_1")
        #expect(!removedAgain)
    }
}

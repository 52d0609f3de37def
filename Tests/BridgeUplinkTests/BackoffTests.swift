import Testing
@testable import BridgeUplink

@Suite struct BackoffTests {
    @Test func delaysStayWithinTheGrowingCeilingAndTheCap() {
        var rng = SplitMix64(seed: 42)
        let backoff = Backoff()
        for attempt in 1...12 {
            let ceiling = min(30_000, 500 << (attempt - 1))
            for _ in 0..<200 {
                let d = backoff.delayMs(attempt: attempt, retryAfterMs: nil, using: &rng)
                #expect(d >= 0 && d <= ceiling)
            }
        }
    }

    @Test func fullJitterSpreadsOverTheWholeRange() {
        var rng = SplitMix64(seed: 7)
        let samples = (0..<2000).map { _ in Backoff().delayMs(attempt: 10, retryAfterMs: nil, using: &rng) }
        #expect(samples.min()! < 3000)
        #expect(samples.max()! > 27_000)
    }

    @Test func retryAfterIsAFloorEvenAboveTheCap() {
        var rng = SplitMix64(seed: 1)
        for attempt in 1...5 {
            #expect(Backoff().delayMs(attempt: attempt, retryAfterMs: 45_000, using: &rng) == 45_000)
        }
    }

    @Test func theSameSeedGivesTheSameDelays() {
        var a = SplitMix64(seed: 99), b = SplitMix64(seed: 99)
        let x = (1...8).map { Backoff().delayMs(attempt: $0, retryAfterMs: nil, using: &a) }
        let y = (1...8).map { Backoff().delayMs(attempt: $0, retryAfterMs: nil, using: &b) }
        #expect(x == y)
    }

    @Test func authFailuresBackOffUpToFiveMinutes() {
        var rng = SplitMix64(seed: 3)
        let samples = (0..<500).map { _ in Backoff(capMs: 300_000).delayMs(attempt: 20, retryAfterMs: nil, using: &rng) }
        #expect(samples.max()! > 200_000)
        #expect(samples.max()! <= 300_000)
    }

    @Test func retryAfterHeaderForms() {
        #expect(Backoff.retryAfterMs("3", now: 0) == 3000)
        #expect(Backoff.retryAfterMs(" 0 ", now: 0) == 0)
        #expect(Backoff.retryAfterMs(nil, now: 0) == nil)
        #expect(Backoff.retryAfterMs("soon", now: 0) == nil)
        #expect(Backoff.retryAfterMs("-4", now: 0) == nil)
        let now = HTTPDate.parse("Sun, 29 Nov 2026 18:00:00 GMT")!
        #expect(Backoff.retryAfterMs("Sun, 29 Nov 2026 18:00:10 GMT", now: now) == 10_000)
        #expect(Backoff.retryAfterMs("Sun, 29 Nov 2026 17:00:00 GMT", now: now) == 0)
    }

    @Test func percentEncodingOfCursors() {
        #expect(Uplink.percentEncode("cG9zOjE=") == "cG9zOjE%3D")
        #expect(Uplink.percentEncode("a b/c") == "a%20b%2Fc")
        #expect(Uplink.percentEncode("AZaz09-_.~") == "AZaz09-_.~")
    }
}

import BridgeCore
import Testing
@testable import BridgeUplink

@Suite struct ClockOffsetTests {
    @Test func noEstimateBeforeTheFirstResponse() {
        let clock = ClockOffset()
        #expect(clock.offsetMs == 0)
        #expect(clock.uncertaintyMs == nil)
        #expect(clock.platformNow(local: 1_000) == 1_000)
    }

    @Test func oneResponseGivesTheSmallestCorrectionItProves() {
        var clock = ClockOffset()
        // Sent at local 4.000 s, answered at 4.200 s, server said 10 s (meaning 10.000–10.999).
        clock.observe(serverDate: 10_000, sentAt: 4_000, receivedAt: 4_200)
        #expect(clock.bounds == 5_800...6_999)
        #expect(clock.offsetMs == 5_800)
        #expect(clock.uncertaintyMs == 1_199)
        #expect(clock.platformNow(local: 5_000) == 10_800)
        #expect(clock.samples == 1)
    }

    @Test func negativeOffsetsForAServerBehind() {
        var clock = ClockOffset()
        clock.observe(serverDate: 1_000_000, sentAt: 1_060_000, receivedAt: 1_060_100)
        #expect(clock.bounds == -60_100 ... -59_001)
        #expect(clock.offsetMs == -59_001)
        #expect(clock.platformNow(local: 2_000_000) == 2_000_000 - 59_001)
    }

    /// A synchronised bridge: every answer allows "no offset", so none is applied, whatever the Date's rounding.
    @Test func aClockInStepWithThePlatformIsNotCorrected() {
        var clock = ClockOffset()
        for local in stride(from: Int64(1_700_000_000_000), to: 1_700_000_010_000, by: 1_234) {
            let serverAt = local + 3  // 6 ms round trip, the server stamping in the middle
            clock.observe(serverDate: serverAt - serverAt % 1000, sentAt: local, receivedAt: local + 6)
            #expect(clock.offsetMs == 0, "\(String(describing: clock.bounds))")
        }
        #expect(clock.resets == 0)
    }

    @Test func quickResponsesNarrowTheEstimate() throws {
        var clock = ClockOffset()
        let trueOffset: Int64 = 123_456
        // Each response: 50 ms round trip, the server stamping at the midpoint, truncating to the second.
        for local in stride(from: Int64(1_700_000_000_000), to: 1_700_000_060_000, by: 777) {
            let serverAt = local + 25 + trueOffset
            clock.observe(serverDate: serverAt - serverAt % 1000, sentAt: local, receivedAt: local + 50)
        }
        #expect(abs(clock.offsetMs - trueOffset) <= 50)
        let bounds = try #require(clock.bounds)
        #expect(bounds.upperBound - bounds.lowerBound <= 60, "\(bounds): wider than the round trip and the sampling allow")
        #expect(clock.uncertaintyMs == bounds.upperBound - bounds.lowerBound)
        #expect(clock.resets == 0)
    }

    @Test func aLongPollDoesNotDragTheEstimate() {
        var clock = ClockOffset()
        clock.observe(serverDate: 100_000, sentAt: 40_000, receivedAt: 40_040)  // offset in [59_960, 60_999]
        let before = clock.offsetMs
        // A 25 s long-poll answered at its end: consistent, but proves much less.
        clock.observe(serverDate: 125_000, sentAt: 40_100, receivedAt: 65_100)
        #expect(clock.offsetMs == before)
        #expect(clock.resets == 0)
        // "Keep the latest" would have said 125_000 - 65_100 = 59_900 at best, anywhere up to 85_899 at worst.
        #expect(clock.offsetMs == 59_960)
    }

    @Test func aClockStepReplacesTheEstimate() {
        var clock = ClockOffset()
        clock.observe(serverDate: 100_000, sentAt: 40_000, receivedAt: 40_040)
        // The bridge's clock was set back by an hour: the new response contradicts everything kept.
        clock.observe(serverDate: 110_000, sentAt: 50_000 - 3_600_000, receivedAt: 50_040 - 3_600_000)
        #expect(clock.resets == 1)
        #expect(abs(clock.offsetMs - (60_000 + 3_600_000)) <= 1_000)
        #expect(clock.samples == 2)
    }

    @Test func followsDrift() {
        var clock = ClockOffset()
        // The local clock runs 100 ppm slow for a day; a request every 30 s with a 200 ms round trip.
        var worst: Int64 = 0
        var local: Int64 = 1_000_000_000_000
        let start = local
        while local < start + 86_400_000 {
            let trueOffset = 5_000 + (local - start) / 10_000
            let serverAt = local + 100 + trueOffset
            clock.observe(serverDate: serverAt - serverAt % 1000, sentAt: local, receivedAt: local + 200)
            worst = max(worst, abs(clock.offsetMs - trueOffset))
            local += 30_000
        }
        #expect(worst <= 1_200)
        #expect(clock.resets > 0)
    }

    @Test func ignoresImpossibleSamples() {
        var clock = ClockOffset()
        clock.observe(serverDate: 10_000, sentAt: 5_000, receivedAt: 4_999)
        clock.observe(serverDate: .max, sentAt: 0, receivedAt: 1)
        clock.observe(serverDate: .min, sentAt: 0, receivedAt: 1)
        #expect(clock.samples == 0)
        #expect(clock.offsetMs == 0)
    }
}

import Testing
@testable import BridgeCore

/// RFC 3339 times from outside (command expiry, issue time): any fraction, never a trap.
@Suite struct TimestampTests {
    let base = Timestamp.parse("2030-01-01T00:00:00Z")!

    @Test func fractionsOfAnyLengthAreTruncatedToMilliseconds() {
        // 4 or more fractional digits trapped (a Range with its lower bound above its upper) and killed the agent.
        #expect(Timestamp.parse("2030-01-01T00:00:00.0000Z") == base)
        #expect(Timestamp.parse("2030-01-01T00:00:00.123456Z") == base + 123)
        #expect(Timestamp.parse("2030-01-01T00:00:00.999999999Z") == base + 999)
        #expect(Timestamp.parse("2030-01-01T00:00:00." + String(repeating: "7", count: 10_000) + "Z") == base + 777)
        #expect(Timestamp.parse("2030-01-01T00:00:00.1Z") == base + 100)
        #expect(Timestamp.parse("2030-01-01T00:00:00.12Z") == base + 120)
        #expect(Timestamp.parse("2030-01-01T00:00:00.123Z") == base + 123)
    }

    @Test func offsetsAndSeparators() {
        #expect(Timestamp.parse("2030-01-01T01:30:00+01:30") == base)
        #expect(Timestamp.parse("2029-12-31T23:00:00.5-01:00") == base + 500)
        #expect(Timestamp.parse("2030-01-01t00:00:00z") == base)
        #expect(Timestamp.parse("2030-01-01 00:00:00Z") == base)
        #expect(Timestamp.parse("2016-12-31T23:59:60Z") == Timestamp.parse("2017-01-01T00:00:00Z"), "a leap second")
    }

    @Test func refusesWhatIsNotARealTime() {
        let bad = ["", "garbage", "2026-13-45T99:99:99Z", "2026-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
                   "2026-04-31T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z",
                   "2026-01-01T00:60:00Z", "2026-01-01T00:00:61Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00.Z",
                   "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:60", "2026-01-01T00:00:00+0100",
                   "2026-01-01T00:00:00+01:", "2026-01-01T00:00:00Zjunk", "+2026-01-01T00:00:00Z", "2026-1-01T00:00:00Z",
                   "٢٠٢٦-01-01T00:00:00Z", "2026-01-01T00:00:00.-1Z"]
        for text in bad { #expect(Timestamp.parse(text) == nil, "\(text)") }
        #expect(Timestamp.parse("2024-02-29T00:00:00Z") != nil)
        #expect(Timestamp.parse("2000-02-29T00:00:00Z") != nil)
        #expect(Timestamp.parse("1900-02-29T00:00:00Z") == nil)
    }

    @Test func everyPrefixOfAValidTimeIsRefusedWithoutATrap() {
        let text = Array("2030-01-01T00:00:00.123456+01:00".utf8)
        for n in 0..<text.count { _ = Timestamp.parse(String(decoding: text[..<n], as: UTF8.self)) }
        #expect(Timestamp.parse(String(decoding: text, as: UTF8.self)) == base - 3_600_000 + 123)
    }

    @Test func formatsAndParsesBack() {
        for ms: Millis in [0, -1, 1, base, base + 999, -62_135_596_800_000, 253_402_300_799_999] {
            #expect(Timestamp.parse(Timestamp.rfc3339(ms)) == ms)
        }
    }
}

import BridgeCore
import Testing
@testable import BridgeUplink

@Suite struct HTTPDateTests {
    /// RFC 9110 §5.6.7's example instant, in its three forms.
    let example: Millis = 784_111_777_000

    @Test func theThreeFormsOfRFC9110() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == example)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == example)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == example)
    }

    @Test func lenientInCaseAndSurroundingSpace() {
        #expect(HTTPDate.parse("  sun, 06 NOV 1994 08:49:37 gmt ") == example)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 UTC") == example)
        #expect(HTTPDate.parse("SUNDAY, 06-nov-94 08:49:37 GMT") == example)
        #expect(HTTPDate.parse("Sun Nov 16 08:49:37 1994") == example + 10 * 86_400_000)
    }

    @Test func agreesWithRFC3339() {
        #expect(HTTPDate.parse("Sat, 29 Nov 2026 18:00:00 GMT") == Timestamp.parse("2026-11-29T18:00:00Z"))
        #expect(HTTPDate.parse("Thu, 29 Feb 2024 23:59:59 GMT") == Timestamp.parse("2024-02-29T23:59:59Z"))
        #expect(HTTPDate.parse("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(HTTPDate.parse("Wed, 31 Dec 1969 23:59:59 GMT") == -1_000)
        #expect(HTTPDate.parse("Fri, 01-Jan-21 00:00:00 GMT") == nil, "RFC 850 needs the long day name")
        #expect(HTTPDate.parse("Friday, 01-Jan-21 00:00:00 GMT") == Timestamp.parse("2021-01-01T00:00:00Z"))
        #expect(HTTPDate.parse("Thursday, 01-Jan-70 00:00:00 GMT") == 0)
        #expect(HTTPDate.parse("Wednesday, 31-Dec-69 00:00:00 GMT") == Timestamp.parse("2069-12-31T00:00:00Z"))
    }

    @Test func refusesWhatIsNotADate() {
        let bad = [
            "", "garbage", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 29 Feb 2023 00:00:00 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 1994 08:49:61 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun,06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra", "Sun Nov 6 08:49:37 1994", "Sun Nov  6 08:49:37 94",
            "2026-11-29T18:00:00Z", "Sunday, 06-Nov-1994 08:49:37 GMT",
        ]
        for text in bad { #expect(HTTPDate.parse(text) == nil, "\(text)") }
    }

    @Test func formatsIMFFixdate() {
        #expect(HTTPDate.format(example) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(-1) == "Wed, 31 Dec 1969 23:59:59 GMT")
        #expect(HTTPDate.format(1_709_251_199_999) == "Thu, 29 Feb 2024 23:59:59 GMT")
        // Round trip, every weekday and month boundary across a few years: parse(format(x)) drops only the fraction.
        var ms: Millis = 1_600_000_000_123
        while ms < 1_900_000_000_000 {
            #expect(HTTPDate.parse(HTTPDate.format(ms)) == ms - ms % 1000)
            ms += 86_400_000 * 13 + 3_601_007
        }
    }
}

import Testing

@testable import PlatformSim

@Suite("Timestamps")
struct TimestampTests {
    @Test func formatsRFC3339WithMilliseconds() {
        #expect(Timestamp.rfc3339(0) == "1970-01-01T00:00:00.000Z")
        // `date -u -d @1795983213` → Sun Nov 29 20:13:33 UTC 2026
        #expect(Timestamp.rfc3339(1_795_983_213_123) == "2026-11-29T20:13:33.123Z")
        #expect(Timestamp.rfc3339(951_782_400_007) == "2000-02-29T00:00:00.007Z")  // leap day
        #expect(Timestamp.rfc3339(-1) == "1969-12-31T23:59:59.999Z")
    }

    @Test func formatsTheRFC7231Example() {
        // RFC 7231 §7.1.1.1's example IMF-fixdate.
        #expect(Timestamp.httpDate(784_111_777_000) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(Timestamp.httpDate(1_795_983_213_999) == "Sun, 29 Nov 2026 20:13:33 GMT")
    }

    @Test func parsesRFC3339Variants() {
        #expect(Timestamp.parseRFC3339("2026-11-29T20:13:33.123Z") == 1_795_983_213_123)
        #expect(Timestamp.parseRFC3339("2026-11-29T20:13:33Z") == 1_795_983_213_000)
        #expect(Timestamp.parseRFC3339("2026-11-29T20:13:33.1Z") == 1_795_983_213_100)
        #expect(Timestamp.parseRFC3339("2026-11-29T20:13:33.123456Z") == 1_795_983_213_123)
        #expect(Timestamp.parseRFC3339("2026-11-29t20:13:33z") == 1_795_983_213_000)
        #expect(Timestamp.parseRFC3339("2026-11-29T21:13:33.123+01:00") == 1_795_983_213_123)
        #expect(Timestamp.parseRFC3339("2026-11-29T15:43:33.123-04:30") == 1_795_983_213_123)
        #expect(Timestamp.parseRFC3339("2000-02-29T00:00:00Z") == 951_782_400_000)
    }

    @Test(arguments: [
        "", "2026-11-29", "2026-11-29 20:13:33Z", "2026-11-29T20:13:33", "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-29T24:00:00Z", "2026-11-29T20:60:00Z",
        "2026-11-29T20:13:60Z", "2026-11-29T20:13:33.Z", "2026-11-29T20:13:33+0100", "2026-11-29T20:13:33Zjunk",
        "26-11-29T20:13:33Z", "1795983213",
    ])
    func refusesWhatIsNotRFC3339(_ text: String) {
        #expect(Timestamp.parseRFC3339(text) == nil)
    }

    @Test func roundTrips() {
        for ms: Millis in [0, 1, 999, 86_399_999, 1_795_983_213_123, 4_102_444_800_000] {
            #expect(Timestamp.parseRFC3339(Timestamp.rfc3339(ms)) == ms)
        }
    }
}

@Suite("JSON values")
struct JSONValueTests {
    @Test func keepsIntegersApartFromOtherNumbers() throws {
        #expect(try JSONValue.parse("5") == .integer(5))
        #expect(try JSONValue.parse("-12") == .integer(-12))
        #expect(try JSONValue.parse("5.0") == .number(5.0))
        #expect(try JSONValue.parse("1e3") == .number(1000))
        #expect(try JSONValue.parse("9223372036854775807") == .integer(Int64.max))
        #expect(try JSONValue.parse("9223372036854775808") == .number(9_223_372_036_854_775_808))
    }

    @Test func parsesStringsWithEscapes() throws {
        #expect(try JSONValue.parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#) == .string("a\"b\\c/d\n\té😀"))
        #expect(try JSONValue.parse("\"caf\u{e9}\"") == .string("café"))
    }

    @Test func parsesNestedDocuments() throws {
        let v = try JSONValue.parse(#" {"a": [1, true, null, {"b": "c"}], "d": {}} "#)
        #expect(v["a"] == [1, true, nil, ["b": "c"]])
        #expect(v["d"] == .object([:]))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"abc", "\"\\x\"", "tru", "{\"a\" 1}", "[1] 2",
        "\"\\ud800\"", "\"a\u{01}b\"", "NaN",
    ])
    func refusesInvalidJSON(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func refusesDeepNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
    }

    @Test func serialisesWithSortedKeysAndEscapes() throws {
        let v: JSONValue = ["b": 1, "a": ["x": "q\"\n\u{01}"], "c": [1.5, false, nil]]
        #expect(v.serialized == #"{"a":{"x":"q\"\n\u0001"},"b":1,"c":[1.5,false,null]}"#)
        #expect(try JSONValue.parse(v.serialized) == v)
    }
}

@Suite("Command cursor")
struct CommandCursorTests {
    @Test func roundTripsAndNeedsNoEscaping() {
        for position in [0, 1, 2, 99, 12_345, 1_000_000] {
            let text = CommandCursor.encode(position)
            #expect(CommandCursor.decode(text) == position)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/") && !text.contains("&"))
        }
        #expect(CommandCursor.encode(12_345) == "cG9zOjEyMzQ1")  // python3: base64.b64encode(b"pos:12345")
    }

    @Test func absentCursorIsTheStart() {
        #expect(CommandCursor.decode(nil) == 0)
        #expect(CommandCursor.decode("") == 0)
    }

    @Test(arguments: ["5", "cG9zOi0x", "bm90OjE", "!!!", "cG9zOmFiYw"])
    func refusesCursorsItNeverIssued(_ text: String) {
        // "cG9zOi0x" = "pos:-1", "bm90OjE" = "not:1", "cG9zOmFiYw" = "pos:abc"
        #expect(CommandCursor.decode(text) == nil)
    }
}

import Testing
@testable import BridgeCore

@Suite struct JSONReaderTests {
    private func read(_ text: String) throws(JSONReader.Failure) -> JSONReader.Document {
        try JSONReader.read(Array(text.utf8))
    }

    private func failure(_ text: String) -> String? {
        do { _ = try read(text); return nil } catch { return error.description }
    }

    @Test func readsEveryKindOfValue() throws {
        let doc = try read(#"{"s": "a\"b\\c\/d\n\t\u00e9\ud83d\ude00", "i": -12, "d": 3.5, "e": 1e2, "z": 0,"#
                           + #" "t": true, "f": false, "n": null, "a": [1, [], {}], "o": {"k": "v"}}"#)
        #expect(doc.value == [
            "s": "a\"b\\c/d\n\té😀", "i": -12, "d": 3.5, "e": 100.0, "z": 0,
            "t": true, "f": false, "n": nil, "a": [1, [], [:]], "o": ["k": "v"],
        ])
        #expect(doc.duplicateKeys.isEmpty)
    }

    @Test func integersStayIntegersAndHugeOnesBecomeDoubles() throws {
        #expect(try read("9223372036854775807").value == .int(Int64.max))
        #expect(try read("92233720368547758070").value == .double(9.223372036854775807e19))
        #expect(try read("3.0").value == .double(3.0))
        #expect(try read("-0").value == .int(0))
    }

    @Test func acceptsAByteOrderMarkAndSurroundingWhitespace() throws {
        #expect(try JSONReader.read([0xEF, 0xBB, 0xBF] + Array(" \r\n\t{\"a\": 1} \n".utf8)).value == ["a": 1])
    }

    @Test func reportsLineAndColumnOfTheMistake() {
        #expect(failure("{\n  \"a\": 1,\n  \"b\": \n}") == #"line 4, column 1: expected a value, found "}""#)
        #expect(failure("{\"a\": 1,\n}") == #"line 1, column 8: trailing comma before "}""#)
        #expect(failure("[1, 2,]") == #"line 1, column 6: trailing comma before "]""#)
        #expect(failure("{\"a\": 1 \"b\": 2}") == #"line 1, column 9: expected "," or "}" after the value of "a", found the start of a string (is a "," missing?)"#)
        #expect(failure("[1 2]") == #"line 1, column 4: expected "," or "]" after an array element, found "2""#)
        #expect(failure("{\"é\": x}") == #"line 1, column 7: expected a value, found "x""#)
    }

    @Test func explainsCommonNonJSONHabits() {
        #expect(failure("// note\n{}") == "line 1, column 1: comments are not allowed in JSON")
        #expect(failure("{'a': 1}") == #"line 1, column 2: keys must be in double quotes ("), not single quotes"#)
        #expect(failure("{\"a\": 'x'}") == #"line 1, column 7: strings must be in double quotes ("), not single quotes"#)
        #expect(failure("{\"a\": True}") == #"line 1, column 7: expected a value, found "True""#)
        #expect(failure("{\"a\": NaN}") == #"line 1, column 7: expected a value, found "NaN""#)
        #expect(failure("{\"a\": nullx}") == #"line 1, column 7: expected a value, found "nullx""#)
        #expect(failure("{a: 1}") == #"line 1, column 2: expected a key in double quotes, found "a""#)
        #expect(failure("{\"a\" 1}") == #"line 1, column 6: expected ":" after the key "a", found "1""#)
    }

    @Test func refusesBadNumbersAndStrings() {
        #expect(failure("012") == "line 1, column 1: numbers cannot start with 0")
        #expect(failure("1.") == #"line 1, column 3: expected a digit after ".", found the end of the file"#)
        #expect(failure("-x") == #"line 1, column 1: expected a digit after "-", found "x""#)
        #expect(failure("1e") == "line 1, column 3: expected a digit in the exponent, found the end of the file")
        #expect(failure("1e999") == "line 1, column 1: number 1e999 is too large")
        #expect(failure("\"abc") == #"line 1, column 1: string is not closed (missing ")"#)
        #expect(failure("\"a\nb\"") == #"line 1, column 3: line break inside a string (is a closing " missing?)"#)
        #expect(failure("\"a\u{1}\"") == #"line 1, column 3: control character inside a string (write it as an escape, e.g. \t)"#)
        #expect(failure(#""\x""#) == #"line 1, column 2: unknown escape \x in a string"#)
        #expect(failure(#""\u12G4""#) == #"line 1, column 2: \u must be followed by 4 hex digits"#)
        #expect(failure(#""\ud83d""#) == #"line 1, column 2: \u escape is half of a surrogate pair"#)
        #expect(failure(#""\ude00""#) == #"line 1, column 2: \u escape is half of a surrogate pair"#)
        #expect((try? JSONReader.read([0x22, 0xC3, 0x28, 0x22])) == nil)
    }

    @Test func quotesWhatWasFoundWithControlCharactersEscaped() {
        #expect(failure("\u{0}garbage") == #"line 1, column 1: expected a value, found "\u{0}""#)
        #expect(failure("[1 \u{7F}]") == #"line 1, column 4: expected "," or "]" after an array element, found "\u{7F}""#)
        #expect(failure("{\"a\\u0007\": 1 2}") == #"line 1, column 15: expected "," or "}" after the value of "a\u{7}", found "2""#)
        #expect(failure("[1 \\]") == #"line 1, column 4: expected "," or "]" after an array element, found "\\""#)
    }

    @Test func refusesTrailingContentAndEmptyText() {
        #expect(failure("{} {}") == #"line 1, column 4: unexpected "{" after the end of the JSON document"#)
        #expect(failure("") == "line 1, column 1: expected a value, found the end of the file")
        #expect(failure("{\"a\": [1, {\"b\": ") == "line 1, column 17: expected a value, found the end of the file")
    }

    @Test func refusesNestingDeeperThanTheLimit() {
        let deep = String(repeating: "[", count: JSONReader.maximumDepth + 1) + String(repeating: "]", count: JSONReader.maximumDepth + 1)
        #expect(failure(deep) == "line 1, column \(JSONReader.maximumDepth + 1): nested more than \(JSONReader.maximumDepth) levels deep")
        let ok = String(repeating: "[", count: JSONReader.maximumDepth) + String(repeating: "]", count: JSONReader.maximumDepth)
        #expect(failure(ok) == nil)
    }

    @Test func collectsRepeatedKeysWithTheirLinesAndKeepsTheFirst() throws {
        let doc = try read("{\n \"zones\": [\n  {\"id\": \"a\",\n   \"id\": \"b\"}\n ],\n \"zones\": []\n}")
        #expect(doc.duplicateKeys == [
            .init(path: "zones[0]", steps: [.key("zones"), .index(0)], key: "id", firstLine: 3, line: 4),
            .init(path: "", steps: [], key: "zones", firstLine: 2, line: 6),
        ])
        #expect(doc.value["zones"]?.arrayValue?.first?["id"] == "a")
    }
}

/// `JSONValue.decode`, the reader of control-socket requests and platform answers: strict, never first-wins.
@Suite struct JSONValueDecodeTests {
    func decode(_ text: String) throws(JSONReader.Failure) -> JSONValue { try JSONValue.decode(Array(text.utf8)) }

    @Test func refusesARepeatedKeyWhereverItIs() {
        // JSONDecoder kept the first of two keys silently: a body two parsers read differently.
        for text in [#"{"a":1,"a":2}"#, #"{"x":[{"relay":"door_strike","relay":"siren"}]}"#, #"{"a":{"b":{"c":1,"c":1}}}"#] {
            #expect(throws: JSONReader.Failure.self, "\(text)") { try decode(text) }
        }
        do { _ = try decode("{\"x\": [\n {\"relay\": 1, \"relay\": 2}]}"); Issue.record("accepted") } catch {
            #expect(error.description == "line 2: key \"relay\" appears twice in x[0]")
        }
    }

    @Test func readsWhatJSONDecoderRead() throws {
        #expect(try decode(#" {"i": -9223372036854775808, "d": 0.5, "big": 1e300, "s": "\u001b", "a": [null, true]} "#)
                == ["i": .int(.min), "d": 0.5, "big": 1e300, "s": "\u{1B}", "a": [nil, true]])
        #expect(try decode("9223372036854775808") == .double(9_223_372_036_854_775_808))
        for bad in ["", "{", "[1,]", "{'a':1}", "1e400", "NaN", "\"\u{1}\""] {
            #expect(throws: JSONReader.Failure.self, "\(bad)") { try decode(bad) }
        }
    }

    @Test func encodedValuesDecodeToThemselves() throws {
        let value: JSONValue = ["id": "evt_1", "seq": 5, "data": ["relay": "door\u{1B}", "ms": 1.5, "list": [1, "2", nil]]]
        #expect(try JSONValue.decode(value.encoded()) == value)
    }
}

@Suite struct ConfigTextTests {
    @Test func compressesRunsOfNumberedIDs() {
        #expect(ConfigText.idList(["in1", "in2", "in3", "in4"]) == "in1..in4")
        #expect(ConfigText.idList(["io8.in1", "io8.in2", "io8.in3", "io8.in4", "io8.in5", "io8.in6", "io8.in7", "io8.in8"])
                == "io8.in1..io8.in8")
        #expect(ConfigText.idList(["out9", "out10", "out11"]) == "out9..out11")
    }

    @Test func listsShortRunsGapsAndUnnumberedIDs() {
        #expect(ConfigText.idList(["out1", "out2"]) == "out1, out2")
        #expect(ConfigText.idList(["in1", "in2", "in3", "in5"]) == "in1..in3, in5")
        #expect(ConfigText.idList(["door", "in1", "in2", "in3", "io8.in1", "panel_armed"])
                == "door, in1..in3, io8.in1, panel_armed")
        #expect(ConfigText.idList(["in01", "in02", "in03"]) == "in01, in02, in03")
        #expect(ConfigText.idList([]) == "")
    }

    @Test func ordersNumbersWithinAPrefixAndDropsRepeats() {
        #expect(ConfigText.idList(["in3", "in1", "x", "in2", "in4", "in1"]) == "in1..in4, x")
    }

    @Test func suggestsTheNearestKnownWord() {
        let keys = ["id", "gpio", "active_low", "bias", "debounce_ms"]
        #expect(ConfigText.suggestion(for: "debounse_ms", among: keys) == "debounce_ms")
        #expect(ConfigText.suggestion(for: "debounceMs", among: keys) == "debounce_ms")
        #expect(ConfigText.suggestion(for: "active-low", among: keys) == "active_low")
        #expect(ConfigText.suggestion(for: "debounce", among: keys) == "debounce_ms")
        #expect(ConfigText.suggestion(for: "biass", among: keys) == "bias")
        #expect(ConfigText.suggestion(for: "ID", among: keys) == "id")
        #expect(ConfigText.suggestion(for: "colour", among: keys) == nil)
        #expect(ConfigText.suggestion(for: "", among: keys) == nil)
        #expect(ConfigText.suggestion(for: "zone", among: ["zones", "relays"]) == "zones")
        #expect(ConfigText.suggestion(for: "pull-up", among: ["as_is", "disabled", "pull_up", "pull_down"]) == "pull_up")
    }

    @Test func editDistanceCountsASwapAsOneEdit() {
        #expect(ConfigText.editDistance(Array("debonuce"), Array("debounce")) == 1)
        #expect(ConfigText.editDistance(Array("kitten"), Array("sitting")) == 3)
        #expect(ConfigText.editDistance(Array(""), Array("abc")) == 3)
    }

    @Test func printableEscapesControlsAndBidiOverridesOnly() {
        #expect(ConfigText.printable("x\u{1B}[31mRED\u{7}") == "x\\u{1B}[31mRED\\u{7}")
        #expect(ConfigText.printable("a \"b\" \\ é 😀") == "a \"b\" \\ é 😀")
        #expect(ConfigText.printable("\u{9B}2J \u{202E}txt.exe") == "\\u{9B}2J \\u{202E}txt.exe")
        #expect(ConfigText.quoted("a\"\u{0}") == #""a\"\u{0}""#)
    }

    @Test func joinsPlacesAsASentence() {
        #expect(ConfigText.quotedSentence(["a"]) == #""a""#)
        #expect(ConfigText.quotedSentence(["a", "b"]) == #""a" and "b""#)
        #expect(ConfigText.quotedSentence(["a", "b", "c"]) == #""a", "b" and "c""#)
    }
}

// JSON text from outside: configuration files, credentials, control-socket requests and the platform's bodies all
// go through `JSONReader.read` (directly or through `JSONValue.decode`). The whole input is the text.
import BridgeCore
import FuzzSupport

/// Equal as JSON: numbers compare by value, because `encoded()` (JSONEncoder) writes a whole double as an integer
/// (`1.0` → `1`), which reads back as `.int`. Everything else compares exactly.
func sameJSON(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y && Int64(exactly: y) == x
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy(sameJSON)
    case (.object(let x), .object(let y)):
        return x.count == y.count && x.allSatisfy { key, value in y[key].map { sameJSON(value, $0) } ?? false }
    default: return a == b
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    let document = try? JSONReader.read(bytes)
    let decoded = try? JSONValue.decode(bytes)

    // decode is the reader that also refuses repeated keys.
    if let document {
        let strictOK = document.duplicateKeys.isEmpty
        Fuzz.require((decoded != nil) == strictOK, "JSONReader.read found \(document.duplicateKeys.count) repeated key(s) "
            + "but JSONValue.decode \(decoded == nil ? "refused" : "accepted") the text")
        if let decoded { Fuzz.require(decoded == document.value, "JSONValue.decode and JSONReader.read disagree") }
    } else {
        Fuzz.require(decoded == nil, "JSONValue.decode accepted a text JSONReader.read refuses")
    }

    // What the agent writes (journal payloads, answers, results) must read back as the same value.
    if let value = document?.value {
        let written = value.encoded()
        let again: JSONValue
        do {
            again = try JSONValue.decode(written)
        } catch {
            Fuzz.require(false, "encoded() wrote \(Fuzz.quote(Fuzz.text(written))), which does not decode: \(error)")
            return 0
        }
        Fuzz.require(sameJSON(again, value), "encoded() wrote \(Fuzz.quote(Fuzz.text(written))), which decodes to a different value")
        // Once read back, what is written is a fixed point (the first write may normalise: -0.0 is written "-0",
        // which reads back as the integer 0).
        let rewritten = again.encoded()
        let third = try? JSONValue.decode(rewritten)
        Fuzz.require(third?.encoded() == rewritten, "encoded() is not stable: \(Fuzz.quote(Fuzz.text(rewritten))) then "
            + Fuzz.quote(third.map { Fuzz.text($0.encoded()) } ?? "nothing"))
    }
    return 0
}

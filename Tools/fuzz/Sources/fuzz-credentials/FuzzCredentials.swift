// The credentials file (upstream.credentials): the whole input is the file's content.
import BridgeCore
import BridgeUplink
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    do {
        let credentials = try Credentials.parse(bytes, path: "/etc/chekt-bridge/credentials.json")
        // What parse promises to the uplink: values fit a header and carry no surrounding whitespace.
        Fuzz.require(!credentials.apiKey.isEmpty && !credentials.signingSecret.isEmpty, "an empty value was accepted")
        Fuzz.require(!credentials.apiKey.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7F },
                     "an api_key with a space or control character was accepted")
        Fuzz.require("\(credentials)" == "Credentials(<redacted>)", "description shows more than <redacted>")
    } catch {
        // An error message names the file, never the content: no secret may leak into a log.
        for secretLike in secretCandidates(bytes) {
            Fuzz.require(!error.message.contains(secretLike), "the error message quotes the file: \(Fuzz.quote(error.message))")
        }
    }
    return 0
}

/// Keys and string values of the top-level object that look like a key or secret (a secret typed where a key belongs
/// is a key): 16 or more characters, no space, quote or brace, and not part of the file name (shorter or wordy
/// texts can appear in a message by chance).
func secretCandidates(_ bytes: [UInt8]) -> [String] {
    guard let document = try? JSONReader.read(bytes), case .object(let object) = document.value else { return [] }
    return (Array(object.keys) + object.values.compactMap { $0.stringValue }).filter { value in
        value.count >= 16 && !value.contains { " \"{}".contains($0) } && !"/etc/chekt-bridge/credentials.json".contains(value)
    }
}

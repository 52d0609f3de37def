// Control-socket request lines (docs/control-socket.md): every line a local client can send is read by
// `ControlRequest.parse` before anything acts on it. The whole input is one line.
import BridgeAgent
import BridgeCore
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let line = Fuzz.bytes(data, size)
    switch ControlRequest.parse(line) {
    case .failure(let refusal):
        // A refusal is answered to the client and may be printed by the tools: it quotes nothing raw.
        Fuzz.require(ConfigText.printable(refusal.message) == refusal.message,
                     "a refusal carries a control character: \(Fuzz.quote(refusal.message))")
    case .success(let request):
        // What was accepted is in range: the server does arithmetic on these.
        if case .events(let query) = request {
            Fuzz.require((query.since ?? 0) >= 0, "events since \(query.since ?? 0) accepted")
            Fuzz.require((0...ControlRequest.maximumLast).contains(query.last), "events last \(query.last) accepted")
        }
        // A strict reading: the same line is JSON without repeated keys.
        Fuzz.require((try? JSONValue.decode(line)) != nil, "a request was accepted from text JSONValue.decode refuses")
    }
    return 0
}

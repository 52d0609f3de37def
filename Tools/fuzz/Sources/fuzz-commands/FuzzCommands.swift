// The platform's long-poll answers (protocol.md, Commands): `CommandPoll.parse` reads every answer before anything
// in it runs, then each readable command's params go through `Request.parse`. The whole input is the body.
import BridgeCore
import BridgeUplink
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let body = Fuzz.bytes(data, size)
    let poll = CommandPoll.parse(body)
    let strict = try? JSONValue.decode(body)
    if poll.problem == nil {
        Fuzz.require(poll.cursor != nil, "a usable answer without a cursor")
        Fuzz.require((poll.cursor?.utf8.count ?? 0) <= CommandPoll.maximumCursorBytes, "a cursor over the limit was taken")
        Fuzz.require(poll.hasCommandsKey, "a usable answer without \"commands\"")
    }
    // What the agent answers and logs about an answer quotes nothing raw.
    for text in [poll.problem].compactMap({ $0 }) + poll.commands.compactMap(\.problem) {
        Fuzz.require(ConfigText.printable(text) == text, "a problem carries a control character: \(Fuzz.quote(text))")
    }
    for command in poll.commands {
        Fuzz.require(!command.id.isEmpty && command.id.utf8.count <= 128, "an unusable id was kept: \(Fuzz.quote(command.id))")
        if command.problem == nil {
            // A well-formed command: its params must be readable by Request.parse without trapping, and its
            // times, when given, are real instants that format back.
            _ = Request.parse(type: command.type, params: command.params)
            for time in [command.issuedAt, command.expiresAt].compactMap({ $0 }) {
                Fuzz.require(Timestamp.parse(Timestamp.rfc3339(time)) == time, "a command time does not format back: \(time)")
            }
        }
    }
    // A clean body (no repeated key anywhere) has no repeated-key problem in any command.
    if strict != nil {
        for command in poll.commands where command.problem?.contains("repeats the key") == true {
            Fuzz.require(false, "a repeated key was reported in a body without one")
        }
    }
    return 0
}

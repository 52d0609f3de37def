// Configuration files: a board profile and a site config, each parsed and validated, then checked against each
// other as `chekt-bridge run` does. The input is `<board> NUL <site>`; without a NUL byte, the whole input is tried
// as either file (crossCheck then runs only when it parses as both).
import BridgeCore
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    let (head, tail) = Fuzz.split(bytes, at: 0)
    let boardBytes = head
    let siteBytes = tail ?? head

    // Every line `config validate` would print reaches a terminal: nothing from the file in it raw.
    func printable(_ issues: [ConfigIssue]) {
        for issue in issues {
            Fuzz.require(ConfigText.printable(issue.description) == issue.description,
                         "an issue prints a control character: \(Fuzz.quote(issue.description))")
        }
    }
    var board: BoardProfile?
    var site: SiteConfig?
    do { board = try ConfigLoader.parseBoard(boardBytes, file: "board.json") } catch { printable(error.issues) }
    do { site = try ConfigLoader.parseSiteConfig(siteBytes, file: "config.json") } catch { printable(error.issues) }
    if let board, let site {
        printable(ConfigLoader.crossCheck(site, board: board, file: "config.json"))
    }
    return 0
}

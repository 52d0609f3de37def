import PlatformSim

do {
    let command = try PlatformSimCommand.parse(nil)
    try await command.serve()
} catch {
    PlatformSimCommand.exit(withError: error)
}

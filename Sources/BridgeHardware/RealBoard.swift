import BridgeCore

/// The board a profile describes, on real hardware: a `CompositeBoard` of the backends its parts need (libgpiod
/// for GPIO chips and lines, libmodbus for Modbus buses and devices). Every kind of part config.md defines has a
/// backend; a part that is missing on the machine (a chip not found, a bus not answering) is a device reported
/// offline and retried, never a refusal to start.
public enum RealBoard {
    public static func make(profile: BoardProfile) -> any Board {
        CompositeBoard(profile: profile)
    }
}

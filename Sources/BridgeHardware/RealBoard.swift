import BridgeCore

/// The board a profile describes, on real hardware: the backend for each of its parts, behind one `Board`.
///
/// Today that is libmodbus for the Modbus buses and devices; the libgpiod backend is not built yet, so a
/// profile with GPIO parts is refused before anything starts (`unsupportedParts`), never half-run.
public enum RealBoard {
    /// The parts of `profile` no backend of this build can drive, each named, e.g.
    /// `GPIO chip "header" (inputs in1, in2)`. Empty when the whole profile can run.
    public static func unsupportedParts(of profile: BoardProfile) -> [String] {
        profile.gpioChips.map { chip in
            let inputs = profile.inputs.filter { profile.deviceID(ofInput: $0.id) == chip.id }.map(\.id)
            let outputs = profile.outputs.filter { profile.deviceID(ofOutput: $0.id) == chip.id }.map(\.id)
            var lines: [String] = []
            if !inputs.isEmpty { lines.append("inputs " + inputs.joined(separator: ", ")) }
            if !outputs.isEmpty { lines.append("outputs " + outputs.joined(separator: ", ")) }
            return "GPIO chip \(ConfigText.quoted(chip.id))" + (lines.isEmpty ? "" : " (\(lines.joined(separator: "; ")))")
        }
    }

    /// The backend for a profile whose parts are all supported (`unsupportedParts` is empty).
    public static func make(profile: BoardProfile) -> any Board {
        ModbusBoard(profile: profile)
    }
}

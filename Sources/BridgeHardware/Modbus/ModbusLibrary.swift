import CModbus

/// libmodbus, linked through the `CModbus` system-library target.
public enum ModbusLibrary {
    /// The version of the libmodbus linked in (`libmodbus_version_*`), e.g. `3.1.6`.
    public static var version: String { "\(libmodbus_version_major).\(libmodbus_version_minor).\(libmodbus_version_micro)" }

    /// libmodbus's words for an error number (`modbus_strerror`), which covers its own codes.
    public static func describe(errno code: Int32) -> String { String(cString: modbus_strerror(code)) }

    /// libmodbus's CRC error code, not importable as a macro.
    public static var badCRC: Int32 { chekt_EMBBADCRC }
}

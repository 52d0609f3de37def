import Testing
@testable import BridgeHardware

@Suite struct LinkageTests {
    @Test func libgpiodIsVersion1() {
        // The v1 API (Debian 12); libgpiod 2.x has an incompatible API under the same header.
        #expect(GPIODLibrary.version.hasPrefix("1."))
    }

    @Test func libmodbusLinks() {
        #expect(ModbusLibrary.version.hasPrefix("3."))
        #expect(ModbusLibrary.describe(errno: ModbusLibrary.badCRC).lowercased().contains("crc"))
    }
}

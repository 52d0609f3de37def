import Foundation
import Testing
@testable import BridgeHardware

@Suite struct LinkageTests {
    @Test func libgpiodIsTheAPIItWasBuiltFor() {
        // The adapter chose its API from the header (CGPIODAdapter); the library linked must be that major version.
        #expect(GPIODLibrary.version.hasPrefix("\(GPIODLibrary.apiMajor)."), "\(GPIODLibrary.version)")
        // A build against libgpiod 2.x (Tools/gpio-vm/check) says which it expects; Debian 12's own is 1.6.
        let expected = ProcessInfo.processInfo.environment["CHEKT_EXPECT_LIBGPIOD_API"].flatMap(Int.init) ?? 1
        #expect(GPIODLibrary.apiMajor == expected, "built against libgpiod \(GPIODLibrary.version), expected API \(expected)")
    }

    @Test func libmodbusLinks() {
        #expect(ModbusLibrary.version.hasPrefix("3."))
        #expect(ModbusLibrary.describe(errno: ModbusLibrary.badCRC).lowercased().contains("crc"))
    }
}

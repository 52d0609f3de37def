import BridgeCore
@testable import BridgeStore
import Testing

@Suite struct CRC32CTests {
    @Test func checkValuesOfTheCastagnoliPolynomial() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of 0xFF, and ascending 0...31.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    @Test func slicedAndBytewisePathsAgreeAtEveryLengthAndSplit() {
        let data = (0..<67).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        // Bit-at-a-time reference.
        func reference(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            }
            return ~c
        }
        for n in 0...data.count {
            #expect(CRC32C.checksum(data[0..<n]) == reference(data[0..<n]), "length \(n)")
            // Feeding it in two parts gives the same.
            let split = n / 3
            let running = data.withUnsafeBytes { raw in
                CRC32C.update(CRC32C.update(0xFFFF_FFFF, UnsafeRawBufferPointer(rebasing: raw[0..<split])),
                              UnsafeRawBufferPointer(rebasing: raw[split..<n]))
            }
            #expect(~running == reference(data[0..<n]))
        }
    }
}

@Suite struct FrameTests {
    let frame = Frame.encode(kind: .event, seq: 42, payload: Array(#"{"a":1}"#.utf8))

    @Test func layoutIsAsDocumented() {
        #expect(Array(frame[0..<4]) == [0xFF, 0x43, 0x42, 0x45])
        #expect(Array(frame[4..<8]) == [7, 0, 0, 0])
        #expect(Array(frame[8..<16]) == [42, 0, 0, 0, 0, 0, 0, 0])
        #expect(CRC32C.checksum(frame[3..<16] + frame[20...]) ==
                UInt32(frame[16]) | UInt32(frame[17]) << 8 | UInt32(frame[18]) << 16 | UInt32(frame[19]) << 24)
        #expect(Array(frame[20...]) == Array(#"{"a":1}"#.utf8))
    }

    @Test func verifiesAndRejectsEveryFlippedByte() {
        let ok = frame.withUnsafeBytes { Frame.check($0, maxPayload: 1000) }
        #expect(ok == .ok(kind: .event, seq: 42, length: 7))
        for i in frame.indices {
            var bad = frame
            bad[i] ^= 0x10
            let result = bad.withUnsafeBytes { Frame.check($0, maxPayload: 1000) }
            // A flipped length bit may also claim more bytes than there are (the scanner
            // reports that as a truncated record): never a verified record.
            switch result {
            case .bad: break
            case .needs(let total): #expect(total > bad.count, "byte \(i)")
            case .ok: Issue.record("flipping byte \(i) still verified")
            }
        }
    }

    @Test func asksForMoreBytesThenRejectsImpossibleLengths() {
        let header = Array(frame[0..<20])
        #expect(header.withUnsafeBytes { Frame.check($0, maxPayload: 1000) } == .needs(total: 27))
        #expect(Array(frame[0..<10]).withUnsafeBytes { Frame.check($0, maxPayload: 1000) } == .needs(total: 20))
        #expect(frame.withUnsafeBytes { Frame.check($0, maxPayload: 6) } == .bad("impossible length 7"))
    }

    @Test func singleRecordFilesMustBeExactlyOneRecordOfTheKind() throws {
        let snapshot = Frame.encode(kind: .snapshot, seq: 1, payload: [1, 2, 3])
        let decoded = try Frame.decodeSingle(snapshot, kind: .snapshot).get()
        #expect(Array(decoded.payload) == [1, 2, 3])
        #expect(throws: FrameProblem.self) { try Frame.decodeSingle(snapshot + [0], kind: .snapshot).get() }
        #expect(throws: FrameProblem.self) { try Frame.decodeSingle(snapshot, kind: .delivered).get() }
        #expect(throws: FrameProblem.self) { try Frame.decodeSingle(Array(snapshot.dropLast()), kind: .snapshot).get() }
    }

    @Test func minimumEventFrameIsAtMostTheSmallestPossibleEvent() {
        // Empty type, empty data, one-digit seq, the year-0 timestamp: the smallest event there is.
        var out: [UInt8] = []
        PreparedEvent(EventDraft(type: "", occurredAt: 0)).frame(seq: 1, into: &out)
        #expect(out.count >= Frame.minimumEventFrame)
        #expect(out.count - Frame.minimumEventFrame < 8, "the bound should be tight: \(out.count)")
    }
}

@Suite struct EventIDTests {
    @Test func matchesTheULIDSpecificationsTimeEncoding() {
        // ulid/spec: 01ARYZ6S41 is the time part of a ULID made at 1469918176385.
        let id = EventID.make(time: 1_469_918_176_385)
        #expect(id.hasPrefix("evt_01ARYZ6S41"))
        #expect(EventID.time(of: id) == 1_469_918_176_385)
    }

    @Test func isWellFormedUniqueAndTimeOrdered() {
        var seen = Set<String>()
        var previous = ""
        for i in 0..<2000 {
            let id = EventID.make(time: t0 + Millis(i))
            #expect(EventID.isWellFormed(id), "\(id)")
            #expect(id.utf8.count == 30)
            #expect(seen.insert(id).inserted)
            #expect(id > previous, "ids of later times sort later")
            previous = id
        }
        #expect(!EventID.isWellFormed("evt_01ARYZ6S41TSV4RRFFQ69G5FAI"), "I is not Crockford base32")
        #expect(!EventID.isWellFormed("evt_81ARYZ6S41TSV4RRFFQ69G5FAV"), "over 48 bits of time")
        #expect(!EventID.isWellFormed("evt_01ARYZ6S41TSV4RRFFQ69G5FA"))
    }

    @Test func randomPartUsesAllEightyBits() {
        struct Fixed: RandomNumberGenerator {
            var values: [UInt64]
            mutating func next() -> UInt64 { values.removeFirst() }
        }
        var ones = Fixed(values: [0xFFFF, UInt64.max])
        #expect(EventID.make(time: 0, using: &ones) == "evt_0000000000ZZZZZZZZZZZZZZZZ")
        var pattern = Fixed(values: [0x8000, 1])   // bit 79 and bit 0
        #expect(EventID.make(time: 0, using: &pattern) == "evt_0000000000G000000000000001")
        var straddle = Fixed(values: [1, 0])       // bit 64: the 4th random character's lowest bit + 4
        #expect(EventID.make(time: 0, using: &straddle) == "evt_0000000000000G000000000000")
    }
}

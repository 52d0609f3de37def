/// The framing of every record the store writes: journal records, the delivery mark, the snapshot.
///
/// ```
/// offset size
///  0     3    magic FF 43 42 ("\xFFCB"): 0xFF never occurs in UTF-8, so never inside a JSON payload
///  3     1    kind  'H' journal header, 'E' event, 'F' seq floor, 'D' delivery mark, 'S' snapshot,
///                   'L' command ledger entry, 'X' dead letter
///  4     4    payload length, u32 little-endian
///  8     8    seq, i64 little-endian (event seq; the floor for 'H'/'F'; the mark for 'D')
/// 16     4    CRC-32C (u32 little-endian) of bytes 3..<16 followed by the payload
/// 20     n    payload
/// ```
/// The checksum covers kind, length and seq as well as the payload, so a flipped bit
/// anywhere in a record is caught, and a reader never trusts an unverified length. A verified
/// record whose seq is outside `seqRange(of:)` is refused like a damaged one.
enum Frame {
    static let magic: (UInt8, UInt8, UInt8) = (0xFF, 0x43, 0x42)
    static let headerSize = 20

    /// What a record is.
    enum Kind: UInt8 {
        case header = 0x48, event = 0x45, seqFloor = 0x46, delivered = 0x44, snapshot = 0x53
        /// 'L' a command-ledger entry, 'X' a dead-lettered event (`RecordLog` files).
        case ledger = 0x4C, deadLetter = 0x58
    }

    /// The largest event payload the journal accepts: one event must fit one upload
    /// request (protocol.md: 256 KiB per request), or it could never be delivered.
    static let maxEventPayload = 256 * 1024 - 64
    /// The largest payload of a single-record file (delivery mark, snapshot).
    static let maxFilePayload = 16 * 1024 * 1024
    /// The largest single-record file: `AtomicFile.read` refuses a larger snapshot or delivery mark before reading it.
    static let maxFileSize = headerSize + maxFilePayload

    /// The seq ceiling, 2^53: no event, floor or delivery mark is above it. A real bridge never gets near it
    /// (2^53 events at 1,000 a second take 285,000 years); a record above it was written by something else (a
    /// person, a damaged medium that happened to verify), and counting on from there would overflow Int64.
    static let maxSeq: Int64 = 1 << 53

    /// The seqs a record of `kind` may carry; nil when its seq field is not a seq (the snapshot's format version,
    /// unused in `RecordLog` files) and is never used in arithmetic.
    static func seqRange(of kind: Kind) -> ClosedRange<Int64>? {
        switch kind {
        case .event: return 1...maxSeq
        case .header, .seqFloor, .delivered: return 0...maxSeq
        case .snapshot, .ledger, .deadLetter: return nil
        }
    }

    /// The smallest event frame there can be (empty type and data): used to bound how many
    /// records a corrupt tail of n bytes could have held. `FrameTests` checks it against
    /// a real encoding.
    static let minimumEventFrame = 128

    /// Appends one framed record to `out`.
    static func append(kind: Kind, seq: Int64, payload: some Collection<UInt8>, to out: inout [UInt8]) {
        let start = out.count
        out.append(magic.0); out.append(magic.1); out.append(magic.2)
        out.append(kind.rawValue)
        let length = UInt32(payload.count)
        withUnsafeBytes(of: length.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: seq.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: [0, 0, 0, 0])
        out.append(contentsOf: payload)
        let crc = out.withUnsafeBytes { raw in
            ~CRC32C.update(CRC32C.update(0xFFFF_FFFF, UnsafeRawBufferPointer(rebasing: raw[(start + 3)..<(start + 16)])),
                           UnsafeRawBufferPointer(rebasing: raw[(start + headerSize)...]))
        }
        out.withUnsafeMutableBytes { $0.storeBytes(of: crc.littleEndian, toByteOffset: start + 16, as: UInt32.self) }
    }

    /// One framed record as bytes.
    static func encode(kind: Kind, seq: Int64, payload: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerSize + payload.count)
        append(kind: kind, seq: seq, payload: payload, to: &out)
        return out
    }

    /// The result of looking at the bytes where a record should start.
    enum Check: Equatable {
        /// A whole, verified record of `length` payload bytes (the frame is `headerSize + length`).
        case ok(kind: Kind, seq: Int64, length: Int)
        /// So far so good, but `total` bytes are needed to decide.
        case needs(total: Int)
        /// Not a record here, and why.
        case bad(String)
    }

    /// Checks the record that should start at `raw[0]`; `raw` holds what is available from there.
    static func check(_ raw: UnsafeRawBufferPointer, maxPayload: Int) -> Check {
        let n = raw.count
        if n >= 1, raw[0] != magic.0 { return .bad("bad magic") }
        if n >= 2, raw[1] != magic.1 { return .bad("bad magic") }
        if n >= 3, raw[2] != magic.2 { return .bad("bad magic") }
        if n >= 4, Kind(rawValue: raw[3]) == nil {
            return .bad("unknown record kind 0x" + String(raw[3], radix: 16))
        }
        guard n >= headerSize else { return .needs(total: headerSize) }
        guard let kind = Kind(rawValue: raw[3]) else { return .bad("unknown record kind 0x" + String(raw[3], radix: 16)) }
        let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        guard length <= maxPayload else { return .bad("impossible length \(length)") }
        guard n >= headerSize + length else { return .needs(total: headerSize + length) }
        let seq = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: Int64.self))
        let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        let computed = ~CRC32C.update(CRC32C.update(0xFFFF_FFFF, UnsafeRawBufferPointer(rebasing: raw[3..<16])),
                                      UnsafeRawBufferPointer(rebasing: raw[headerSize..<(headerSize + length)]))
        guard stored == computed else { return .bad("checksum mismatch") }
        // Checked here, so that every reader (recovery, reads, compaction, resynchronisation) refuses it alike.
        if let range = seqRange(of: kind), !range.contains(seq) {
            return .bad("seq \(seq) out of range (\(range.lowerBound)...2^53)")
        }
        return .ok(kind: kind, seq: seq, length: length)
    }

    /// Decodes a file that must be exactly one record of `kind`; the error says what is wrong.
    static func decodeSingle(_ bytes: [UInt8], kind: Kind) -> Result<(seq: Int64, payload: ArraySlice<UInt8>), FrameProblem> {
        let check = bytes.withUnsafeBytes { Frame.check($0, maxPayload: maxFilePayload) }
        switch check {
        case .bad(let why): return .failure(FrameProblem(why))
        case .needs(let total): return .failure(FrameProblem("truncated record (\(bytes.count) of \(total) bytes)"))
        case .ok(let k, let seq, let length):
            guard k == kind else { return .failure(FrameProblem("record kind '\(Character(Unicode.Scalar(k.rawValue)))' where '\(Character(Unicode.Scalar(kind.rawValue)))' was expected")) }
            guard bytes.count == headerSize + length else {
                return .failure(FrameProblem("\(bytes.count - headerSize - length) unexpected bytes after the record"))
            }
            return .success((seq, bytes[headerSize...]))
        }
    }
}

/// Why bytes are not a valid record.
struct FrameProblem: Error, Equatable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

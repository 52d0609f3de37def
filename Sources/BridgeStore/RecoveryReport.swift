/// What opening a journal found: how much was read, and every byte it could not use.
///
/// Damage is never fatal: the journal opens with every record that verifies. The agent
/// logs `problems`, one line each, for the technician.
public struct RecoveryReport: Sendable, Equatable {
    /// Event records read and verified.
    public var records: Int = 0
    /// Damaged regions, in file order (the truncated tail, if any, is the last).
    public var damaged: [DamagedRegion] = []
    /// The damaged tail that was cut off, if there was one.
    public var truncatedTail: TruncatedTail?
    /// Other findings: a missing journal header, an unreadable delivery mark.
    public var notes: [String] = []
    /// Damaged regions after the first `maxListedDamage`, only counted (with their bytes), so that a file of
    /// nothing but small damaged regions fills neither memory nor the log.
    public var unlistedDamage = 0
    public var unlistedDamageBytes = 0

    /// How many damaged regions are listed in `damaged` (the truncated tail is always listed, as the last).
    public static let maxListedDamage = 100

    /// Bytes skipped because they were not verifiable records.
    public var bytesSkipped: Int { damaged.reduce(0) { $0 + $1.length } + unlistedDamageBytes }

    /// Lists `region`, or only counts it once `maxListedDamage` are listed.
    mutating func addDamage(_ region: DamagedRegion) {
        if damaged.count < Self.maxListedDamage {
            damaged.append(region)
        } else {
            unlistedDamage += 1
            unlistedDamageBytes += region.length
        }
    }

    /// Makes sure `region` (the last one found: the damaged tail) is listed, as the last.
    mutating func listLast(_ region: DamagedRegion) {
        guard damaged.last != region else { return }
        unlistedDamage -= 1
        unlistedDamageBytes -= region.length
        damaged.append(region)
    }

    /// True when nothing was damaged or missing.
    public var isClean: Bool { damaged.isEmpty && notes.isEmpty }

    /// One line per finding, for the log.
    public var problems: [String] {
        var lines: [String] = []
        for region in damaged {
            var line = "\(region.length) damaged bytes at offset \(region.offset) of \(region.path) (\(region.reason))"
            if let tail = truncatedTail, tail.offset == region.offset {
                line += ": truncated; the bytes were copied to \(tail.copiedTo); new events continue after seq \(tail.seqFloor)"
            } else {
                line += ": skipped; the records after them were read"
            }
            lines.append(line)
        }
        if unlistedDamage > 0 {
            lines.append("\(unlistedDamage) more damaged regions (\(unlistedDamageBytes) bytes) of \(damaged.first?.path ?? "the journal") were skipped (not listed one by one)")
        }
        return lines + notes
    }
}

/// Bytes of a journal that were not a verifiable record.
public struct DamagedRegion: Sendable, Equatable {
    public var path: String
    /// Byte offset in the file where the damage starts.
    public var offset: Int
    public var length: Int
    /// Why the first record there failed: "checksum mismatch", "bad magic", "impossible length N",
    /// "truncated record (n of m bytes)", "seq out of order".
    public var reason: String
}

/// A damaged end of the journal, removed at open after its bytes were kept aside.
public struct TruncatedTail: Sendable, Equatable {
    public var offset: Int
    public var length: Int
    /// `<journal>.corrupt-<epoch ms>`: the removed bytes, unchanged.
    public var copiedTo: String
    /// New events get seqs above this: the tail might have held records up to it
    /// (length / the smallest possible record), which may already have been delivered.
    public var seqFloor: Int64
}

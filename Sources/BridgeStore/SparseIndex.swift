/// Every ~32 KiB of journal, where a record starts and its seq: enough to find any seq with
/// a short scan, without keeping events in memory.
///
/// A 64 MB journal has about 2,000 entries (48 KB); the events themselves stay on disk.
struct SparseIndex {
    struct Entry: Equatable {
        var seq: Int64
        var offset: Int
        /// How many event records come before this one in the file.
        var ordinal: Int
    }

    static let strideBytes = 32 * 1024

    private(set) var entries: [Entry] = []
    /// Event records in the file.
    private(set) var records = 0

    /// Notes the next event record (in file order, seq increasing).
    mutating func add(seq: Int64, offset: Int) {
        if entries.isEmpty || offset - entries[entries.count - 1].offset >= Self.strideBytes {
            entries.append(Entry(seq: seq, offset: offset, ordinal: records))
        }
        records += 1
    }

    /// The last entry whose seq is <= `seq`: scanning from it reaches the first record above `seq`.
    func entry(atOrBefore seq: Int64) -> Entry? {
        var lo = 0, hi = entries.count   // first index with entries[i].seq > seq
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].seq <= seq { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? nil : entries[lo - 1]
    }
}

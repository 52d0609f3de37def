import BridgeCore
import FoundationEssentials
import Glibc

/// What one compaction did.
public struct CompactionSummary: Sendable, Equatable {
    /// The journal's size when compaction started.
    public var bytesBefore: Int
    /// The new journal's size (records appended during compaction included).
    public var bytesAfter: Int
    /// Delivered events removed. They reached the platform, so they are not counted as dropped.
    public var retired: Int
    /// Whole zone.faulted + zone.restored pairs of one zone dropped.
    public var zonePairs: Int
    /// Undelivered zone.faulted / zone.restored events dropped (the pairs' events included).
    public var droppedZoneEvents: Int
    /// Undelivered events of other types dropped (only when no zone events were left).
    public var droppedOther: Int
    /// Still over `maxBytes` afterwards: only never-dropped events (and what was appended meanwhile) are left.
    public var overBound: Bool

    /// Undelivered events dropped: what `stats.dropped` grew by.
    public var dropped: Int { droppedZoneEvents + droppedOther }
}

/// The disk bound: rewriting the journal without the events it can spare.
///
/// Policy (behaviour.md, Persistence), to about 75 % of `maxBytes`, each step only if the
/// previous ones were not enough:
/// 1. delivered events, oldest first (any type: the platform has them);
/// 2. undelivered zone.faulted → zone.restored pairs of one zone, oldest pair first;
/// 3. other undelivered zone.faulted / zone.restored events, oldest first;
/// 4. undelivered events of any other type except `EventType.isNeverDropped` ones, oldest first.
/// alarm.created and command.result are never dropped before delivery; if they alone exceed
/// the bound, the journal exceeds it and `stats.overBound` says so.
///
/// The rewrite goes to `<journal>.compacting` (fsync), is renamed over the journal, and the
/// folder is fsync'd. Appends continue during the scan and copy; they pause only while the
/// records appended meanwhile are copied and the files are swapped. Memory: the seqs to drop
/// (8 bytes each) and one open fault per zone.
extension Journal {
    /// Compacts now if the journal is over `maxBytes`; nil when it is not (nothing done).
    ///
    /// Waits for a compaction already running. Throws on I/O failure (the journal is then
    /// unchanged and keeps working); the failure is also kept in `stats.compactionError`.
    @discardableResult
    public func compact() throws(StoreError) -> CompactionSummary? {
        try compact(scheduled: false)
    }

    /// True (and marks it scheduled) when an automatic compaction should start now. Lock held.
    func claimAutomaticCompaction(_ s: UnsafeMutablePointer<State>) -> Bool {
        guard compactionMode != .manual, !s.pointee.closed, !s.pointee.compacting, !s.pointee.compactionScheduled,
              s.pointee.endOffset > maxBytes, s.pointee.endOffset >= s.pointee.nextCompactionAt
        else { return false }
        s.pointee.compactionScheduled = true
        return true
    }

    /// Runs a claimed automatic compaction: here (`.inline`) or on the compaction queue.
    func runAutomaticCompaction() {
        switch compactionMode {
        case .inline, .manual:
            // Failures are kept in stats.compactionError; the append that triggered it succeeded.
            _ = try? compact(scheduled: true)
        case .background:
            compactionQueue.async { @Sendable in _ = try? self.compact(scheduled: true) }
        }
    }

    private func compact(scheduled: Bool) throws(StoreError) -> CompactionSummary? {
        let g = guarded
        g.lock()
        let s = g.value
        if scheduled { s.pointee.compactionScheduled = false }
        while s.pointee.compacting { g.wait() }
        guard !s.pointee.closed, let oldFile = s.pointee.file, s.pointee.endOffset > maxBytes else {
            let closed = s.pointee.closed
            g.broadcast()
            g.unlock()
            if closed && !scheduled { throw closedError("compact") }
            return nil
        }
        s.pointee.compacting = true
        let snapshotEnd = s.pointee.endOffset
        let dataStart = s.pointee.dataStart
        let delivered = s.pointee.deliveredThrough
        let floor = s.pointee.lastSeq
        let droppedBefore = s.pointee.dropped
        g.unlock()

        var newFD: Int32 = -1
        var holdsLeadership = false
        do throws(StoreError) {
            let plan = try planCompaction(file: oldFile, from: dataStart, to: snapshotEnd, deliveredThrough: delivered,
                                          target: maxBytes / 4 * 3)
            if plan.drop.isEmpty && snapshotEnd - dataStart == plan.eventBytes {
                // Only never-dropped events are left and there is no damage to clear: a rewrite
                // would only cost I/O. Retried after more growth or a new delivery mark.
                g.lock()
                s.pointee.compacting = false
                s.pointee.overBound = true
                s.pointee.nextCompactionAt = s.pointee.endOffset + max(maxBytes / 8, 4096)
                g.broadcast()
                g.unlock()
                return CompactionSummary(bytesBefore: snapshotEnd, bytesAfter: snapshotEnd, retired: 0, zonePairs: 0,
                                         droppedZoneEvents: 0, droppedOther: 0, overBound: true)
            }
            // Recovery keeps the count in 0...maxSeq; saturating all the same, so no count can trap.
            let droppedAfter = Journal.saturatingAdd(droppedBefore, Int64(plan.droppedZoneEvents + plan.droppedOther))
            let header = Journal.headerRecord(floor: floor, dropped: droppedAfter)

            // A new file, never one found there (O_EXCL does not follow a symlink left in its place).
            try Syscall.unlinkIfPresent(compactionPath)
            newFD = try Syscall.open(compactionPath, O_RDWR | O_CREAT | O_EXCL)
            var writer = BufferedWriter(fd: newFD, path: compactionPath)
            try writer.write(header[...])
            var index = SparseIndex()
            var previous = Int64.min
            try copyRecords(from: oldFile, dataStart, snapshotEnd, skipping: plan.drop, previous: &previous,
                            into: &writer, index: &index)

            // Pause appends: copy what they wrote since the scan, then swap.
            g.lock()
            while s.pointee.leaderActive { g.wait() }
            if s.pointee.closed {
                g.unlock()
                throw closedError("compact")
            }
            s.pointee.leaderActive = true
            holdsLeadership = true
            let finalEnd = s.pointee.endOffset
            g.unlock()

            try copyRecords(from: oldFile, snapshotEnd, finalEnd, skipping: [], previous: &previous,
                            into: &writer, index: &index)
            try writer.flush()
            try Syscall.fsync(newFD, path: compactionPath)
            try Syscall.rename(compactionPath, journalPath)
            let newFile = OpenFile(fd: newFD, path: journalPath)
            newFD = -1

            g.lock()
            s.pointee.file = newFile
            s.pointee.dataStart = header.count
            s.pointee.endOffset = writer.offset
            s.pointee.needsTruncate = false
            s.pointee.index = index
            s.pointee.dropped = droppedAfter
            s.pointee.compactions += 1
            s.pointee.compactionError = nil
            s.pointee.overBound = writer.offset > maxBytes
            s.pointee.nextCompactionAt = s.pointee.overBound ? writer.offset + max(maxBytes / 8, 4096) : 0
            let position = try? Journal.deliveryPosition(in: s.pointee)
            s.pointee.deliveredCount = position?.count ?? 0
            s.pointee.oldestPendingAt = position?.oldestPending
            s.pointee.leaderActive = false
            holdsLeadership = false
            s.pointee.compacting = false
            g.broadcast()
            g.unlock()

            // The rename is done and in use; this makes it survive a power cut.
            try Syscall.fsyncDirectory(directory)
            return CompactionSummary(bytesBefore: snapshotEnd, bytesAfter: writer.offset, retired: plan.retired,
                                     zonePairs: plan.zonePairs, droppedZoneEvents: plan.droppedZoneEvents,
                                     droppedOther: plan.droppedOther, overBound: writer.offset > maxBytes)
        } catch {
            if newFD >= 0 {
                Syscall.close(newFD)
                try? Syscall.unlinkIfPresent(compactionPath)
            }
            g.lock()
            if holdsLeadership { s.pointee.leaderActive = false }
            if s.pointee.compacting {
                s.pointee.compacting = false
                s.pointee.nextCompactionAt = s.pointee.endOffset + max(maxBytes / 8, 4096)
            }
            s.pointee.compactionError = error
            g.broadcast()
            g.unlock()
            throw error
        }
    }

    /// Copies the event records of `start..<end` not in `drop`, unchanged, building the new index.
    private func copyRecords(from file: OpenFile, _ start: Int, _ end: Int, skipping drop: Set<Int64>,
                             previous: inout Int64, into writer: inout BufferedWriter,
                             index: inout SparseIndex) throws(StoreError) {
        var scanner = FrameScanner(file: file, from: start, to: end, payloadKinds: [])
        while let item = try scanner.next() {
            guard case .record(.event, let seq, let offset, let size, _) = item, seq > previous else { continue }
            previous = seq
            if drop.contains(seq) { continue }
            index.add(seq: seq, offset: writer.offset)
            try writer.write(try scanner.frameBytes(offset: offset, size: size))
        }
    }

    /// The seqs to drop, chosen by the policy above.
    struct CompactionPlan {
        var drop: Set<Int64> = []
        var retired = 0
        var zonePairs = 0
        var droppedZoneEvents = 0
        var droppedOther = 0
        /// Bytes of verified, in-order event records in the scanned region.
        var eventBytes = 0
    }

    /// How compaction sees an event.
    enum EventClass: Equatable {
        case zone(String, faulted: Bool)
        case neverDropped
        case other
    }

    func planCompaction(file: OpenFile, from start: Int, to end: Int, deliveredThrough: Int64,
                        target: Int) throws(StoreError) -> CompactionPlan {
        var plan = CompactionPlan()
        // Walks the event records in order (verified, seq increasing), with payloads if asked.
        func walk(payloads: Bool, _ body: (Int64, Int, ArraySlice<UInt8>?) -> Bool) throws(StoreError) {
            var scanner = FrameScanner(file: file, from: start, to: end, payloadKinds: payloads ? [.event] : [])
            var previous = Int64.min
            while let item = try scanner.next() {
                guard case .record(.event, let seq, _, let size, let payload) = item, seq > previous else { continue }
                previous = seq
                if !body(seq, size, payload) { return }
            }
        }

        var eventBytes = 0
        try walk(payloads: false) { _, size, _ in eventBytes += size; return true }
        plan.eventBytes = eventBytes
        var needed = Journal.headerRecord(floor: Int64.max, dropped: Int64.max).count + eventBytes - target
        guard needed > 0 else { return plan }

        // 1. Delivered, oldest first.
        try walk(payloads: false) { seq, size, _ in
            guard seq <= deliveredThrough, needed > 0 else { return false }
            plan.drop.insert(seq); plan.retired += 1; needed -= size
            return true
        }
        guard needed > 0 else { return plan }

        // 2. Whole fault/restore pairs of one zone, in the order they complete.
        var openFaults: [String: (seq: Int64, size: Int)] = [:]
        try walk(payloads: true) { seq, size, payload in
            guard seq > deliveredThrough else { return true }
            guard case .zone(let zone, let faulted) = Journal.classify(payload) else { return true }
            if faulted {
                openFaults[zone] = (seq, size)
            } else if let fault = openFaults.removeValue(forKey: zone) {
                plan.drop.insert(fault.seq); plan.drop.insert(seq)
                plan.zonePairs += 1; plan.droppedZoneEvents += 2
                needed -= fault.size + size
            }
            return needed > 0
        }
        guard needed > 0 else { return plan }

        // 3. Any other zone event, oldest first; 4. then anything that may be dropped.
        for zoneOnly in [true, false] {
            try walk(payloads: true) { seq, size, payload in
                guard seq > deliveredThrough, !plan.drop.contains(seq) else { return true }
                switch Journal.classify(payload) {
                case .neverDropped: return true
                case .zone: plan.droppedZoneEvents += 1
                case .other:
                    if zoneOnly { return true }
                    plan.droppedOther += 1
                }
                plan.drop.insert(seq); needed -= size
                return needed > 0
            }
            guard needed > 0 else { return plan }
        }
        return plan
    }

    /// The type and zone of an event payload, decoding no more than that.
    static func classify(_ payload: ArraySlice<UInt8>?) -> EventClass {
        struct Probe: Decodable {
            struct ZoneData: Decodable { var zone: String? }
            var type: String
            var data: ZoneData?
        }
        struct TypeProbe: Decodable { var type: String }
        guard let payload else { return .other }
        let data = Data(payload)
        let decoder = JSONDecoder()
        let type: String
        var zone: String?
        if let probe = try? decoder.decode(Probe.self, from: data) {
            type = probe.type
            zone = probe.data?.zone
        } else if let probe = try? decoder.decode(TypeProbe.self, from: data) {
            type = probe.type
        } else {
            return .other
        }
        guard let known = EventType(rawValue: type) else { return .other }
        if known.isNeverDropped { return .neverDropped }
        if known == .zoneFaulted || known == .zoneRestored, let zone {
            return .zone(zone, faulted: known == .zoneFaulted)
        }
        return .other
    }
}

/// Appends to a file through a 256 KiB buffer.
struct BufferedWriter {
    let fd: Int32
    let path: String
    /// Bytes written so far, buffered ones included.
    private(set) var offset = 0
    private var buffer: [UInt8] = []
    private var flushed = 0

    init(fd: Int32, path: String) {
        self.fd = fd; self.path = path
        buffer.reserveCapacity(256 * 1024)
    }

    mutating func write(_ bytes: ArraySlice<UInt8>) throws(StoreError) {
        buffer += bytes
        offset += bytes.count
        if buffer.count >= 256 * 1024 { try flush() }
    }

    mutating func flush() throws(StoreError) {
        guard !buffer.isEmpty else { return }
        try Syscall.pwriteAll(fd, buffer, at: flushed, path: path)
        flushed += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }
}

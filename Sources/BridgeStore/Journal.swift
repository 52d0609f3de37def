import BridgeCore
import Dispatch
import FoundationEssentials
import Glibc

/// The durable event outbox: an append-only file of checksummed records with group commit,
/// a persisted delivery mark, recovery from damage, and a disk bound kept by compaction.
///
/// Files in `directory` (see docs/storage.md): `<name>.journal` (the records),
/// `<name>.delivered` (the delivery mark, replaced atomically), `<name>.lock` (held with
/// `flock` so a second agent cannot open the same journal).
///
/// Thread-safety: every method may be called from any thread at once. Appends use group
/// commit: the first caller to find no write in progress becomes the leader and writes
/// everything queued with one `pwrite` and one `fdatasync`; callers arriving meanwhile
/// queue up and the next leader takes them all. Reads never see a record before its
/// fdatasync has returned, so nothing the uplink sends can be lost in a power cut.
///
/// Memory: events stay on disk; the journal keeps a sparse seq → offset index (one entry per
/// ~32 KiB) and reads through a 256 KiB window.
public final class Journal: Sendable {
    /// When compaction runs once the journal grows past `maxBytes`.
    public enum CompactionMode: Sendable {
        /// On a background queue: appends only pause for the final swap (copying what was
        /// appended meanwhile). The agent's choice.
        case background
        /// On the appending thread that crossed the bound, after its own events are durable.
        case inline
        /// Never by itself: only `compact()`.
        case manual
    }

    /// The seq ceiling, 2^53: no event, floor or delivery mark is above it (one read from disk above it is
    /// damage, reported and skipped), and an append that would pass it fails (`.seqCeiling`).
    public static let maxSeq: Int64 = Frame.maxSeq

    /// The folder holding the journal's files.
    public let directory: String
    /// The disk bound (`outbox.max_mb` in bytes): compaction keeps the journal file under it.
    public let maxBytes: Int
    public let compactionMode: CompactionMode
    /// What opening found; the agent logs `recovery.problems`.
    public let recovery: RecoveryReport

    let journalPath: String
    let deliveredPath: String
    let compactionPath: String
    let guarded: ConditionLock<State>
    /// Serialises `markDelivered` so two marks never race to replace the file.
    let deliveryLock = ConditionLock<Void>(())
    let compactionQueue: DispatchQueue

    /// Opens (creating the folder 0750 if missing) and recovers. Never fatal on corrupt data: see `recovery`.
    ///
    /// `name` prefixes the file names, so another journal can share the folder. Throws when the
    /// folder cannot be created or written, the journal is locked by another process, or
    /// `maxBytes` is below 4096.
    public init(directory: String, maxBytes: Int, name: String = "outbox",
                compaction: CompactionMode = .background) throws(StoreError) {
        guard maxBytes >= 4096 else {
            throw StoreError(code: .invalidArgument, path: directory, operation: "open journal",
                             message: "the journal bound must be at least 4096 bytes, got \(maxBytes)")
        }
        self.directory = directory
        self.maxBytes = maxBytes
        self.compactionMode = compaction
        journalPath = directory + "/" + name + ".journal"
        deliveredPath = directory + "/" + name + ".delivered"
        compactionPath = journalPath + ".compacting"
        compactionQueue = DispatchQueue(label: "chekt-bridge.journal.compaction")

        try Syscall.makeDirectories(directory, mode: 0o750)
        let (lockFD, lockProblem) = try Journal.takeLock(directory + "/" + name + ".lock")
        do {
            let opened = try Journal.recover(journalPath: journalPath, deliveredPath: deliveredPath,
                                             compactionPath: compactionPath, directory: directory)
            var report = opened.report
            if let lockProblem { report.notes.insert(lockProblem, at: 0) }
            recovery = report
            var state = State(file: opened.file, lockFD: lockFD, dataStart: opened.dataStart,
                              endOffset: opened.endOffset, index: opened.index, lastSeq: opened.lastSeq,
                              dropped: opened.dropped, deliveredThrough: opened.deliveredThrough)
            let position = try Journal.deliveryPosition(in: state)
            state.deliveredCount = position.count
            state.oldestPendingAt = position.oldestPending
            guarded = ConditionLock(state)
        } catch {
            Syscall.close(lockFD)
            throw error
        }
    }

    deinit {
        // Only reached without close(): release the lock file (the journal's OpenFile closes itself).
        let fd = guarded.value.pointee.lockFD
        if fd >= 0 { Syscall.close(fd) }
    }

    // MARK: Reading state

    /// The last seq recorded (or reserved by recovery after a damaged tail); 0 when nothing was ever recorded.
    /// The next event gets a higher seq.
    public var lastSeq: Int64 { guarded.withLock { $0.lastSeq } }

    /// Every event with seq <= this was accepted by the platform (persisted by `markDelivered`).
    public var deliveredThrough: Int64 { guarded.withLock { $0.deliveredThrough } }

    /// The seq the next appended event gets (one appender at a time: the seqs of an append of n events are
    /// `nextSeq ..< nextSeq + n`).
    public var nextSeq: Int64 { guarded.withLock { $0.nextSeq } }

    /// True when event `seq` was recorded: it is in the journal, or it was delivered (and maybe compacted away since).
    public func recorded(seq: Int64) throws(StoreError) -> Bool {
        if seq <= deliveredThrough { return seq > 0 }
        return try events(after: seq - 1, limit: 1).first?.seq == seq
    }

    /// Counters for `status`: pending, oldest pending time, bytes, dropped, compactions.
    public var stats: JournalStats {
        guarded.withLock { s in
            JournalStats(records: s.index.records, pending: s.index.records - s.deliveredCount,
                         oldestPendingAt: s.oldestPendingAt, bytesOnDisk: s.endOffset, maxBytes: maxBytes,
                         dropped: s.dropped, overBound: s.overBound, lastSeq: s.lastSeq,
                         deliveredThrough: s.deliveredThrough, compactions: s.compactions,
                         compactionError: s.compactionError, commits: s.commits,
                         unreadable: s.unreadableSeqs.count)
        }
    }

    // MARK: Appending

    /// Assigns ids (evt_ + 26-char ULID, Crockford base32, 48-bit ms time from occurredAt + 80 random bits from
    /// SystemRandomNumberGenerator) and consecutive seqs, appends, and returns only once the records are fsync'd.
    ///
    /// Safe to call from many threads at once: group commit — one write + one fdatasync covers every append
    /// waiting. The drafts of one call get consecutive seqs and are written together. On a write or sync
    /// failure the call throws and its seqs are never used (a gap in seq, never a reuse).
    public func append(_ drafts: [EventDraft]) throws(StoreError) -> [Event] {
        if drafts.isEmpty { return [] }
        // The expensive part (JSON of `data`, ids) is done before taking the lock; under it
        // only the seq is put in.
        var prepared: [PreparedEvent] = []
        prepared.reserveCapacity(drafts.count)
        for draft in drafts {
            let p = PreparedEvent(draft)
            guard p.payloadSizeBound <= Frame.maxEventPayload else {
                throw StoreError(code: .tooLarge, path: journalPath, operation: "append",
                                 message: "a \(draft.type) event of about \(p.payloadSizeBound) bytes is larger than one upload may be (\(Frame.maxEventPayload) bytes); it was not recorded")
            }
            prepared.append(p)
        }

        let g = guarded
        g.lock()
        let s = g.value
        guard !s.pointee.closed else {
            g.unlock()
            throw closedError("append")
        }
        let first = s.pointee.nextSeq
        // Seqs end at the ceiling (Frame.maxSeq): only a seq, mark or floor left by something else can bring the
        // journal near it, and then appends fail here instead of trapping on Int64 overflow.
        guard first <= Frame.maxSeq, Int64(prepared.count) <= Frame.maxSeq - first + 1 else {
            g.unlock()
            throw StoreError(code: .seqCeiling, path: journalPath, operation: "append",
                             message: "no seq left for \(prepared.count) event(s): the last seq given is \(first - 1), and seqs end at 2^53 (\(Frame.maxSeq)), which no real bridge reaches; a record, floor or delivery mark with an impossible seq was left in \(directory) (see the journal's start-up warnings); the events were not recorded")
        }
        s.pointee.nextSeq += Int64(prepared.count)
        for (i, p) in prepared.enumerated() {
            s.pointee.queueFrames.append(QueuedFrame(seq: first + Int64(i), at: s.pointee.queue.count))
            p.frame(seq: first + Int64(i), into: &s.pointee.queue)
        }
        if s.pointee.queueFirstOccurredAt == nil { s.pointee.queueFirstOccurredAt = drafts[0].occurredAt }
        s.pointee.queueCallers += 1
        let generation = s.pointee.queueGeneration

        while s.pointee.completedGeneration < generation {
            if s.pointee.leaderActive {
                g.wait()
            } else {
                lead(s)
            }
        }
        if let failure = s.pointee.failures[generation] {
            if failure.waiters <= 1 {
                s.pointee.failures[generation] = nil
            } else {
                s.pointee.failures[generation]!.waiters -= 1
            }
            g.unlock()
            throw failure.error
        }
        let compactNow = claimAutomaticCompaction(s)
        g.unlock()
        if compactNow { runAutomaticCompaction() }

        return prepared.enumerated().map { i, p in
            Event(id: p.id, seq: first + Int64(i), type: p.type, occurredAt: p.occurredAt, data: p.data)
        }
    }

    /// Writes the queued batch as leader. Called with the lock held; returns with it held.
    private func lead(_ s: UnsafeMutablePointer<State>) {
        let g = guarded
        let generation = s.pointee.queueGeneration
        let batch = s.pointee.queue
        let frames = s.pointee.queueFrames
        let callers = s.pointee.queueCallers
        let firstOccurredAt = s.pointee.queueFirstOccurredAt
        s.pointee.queue = []
        s.pointee.queueFrames = []
        s.pointee.queueCallers = 0
        s.pointee.queueFirstOccurredAt = nil
        s.pointee.queueGeneration += 1
        s.pointee.leaderActive = true
        let file = s.pointee.file!
        let offset = s.pointee.endOffset
        let truncateFirst = s.pointee.needsTruncate
        let hook = s.pointee.beforeCommit
        g.unlock()

        var failure: StoreError?
        do throws(StoreError) {
            if let injected = hook?() { throw injected }
            // A failed earlier write may have left bytes past the durable end: cut them first.
            if truncateFirst { try Syscall.ftruncate(file.fd, offset, path: file.path) }
            try Syscall.pwriteAll(file.fd, batch, at: offset, path: file.path)
            try Syscall.fdatasync(file.fd, path: file.path)
        } catch {
            failure = error
        }

        g.lock()
        s.pointee.leaderActive = false
        s.pointee.completedGeneration = generation
        s.pointee.commits += 1
        if let failure {
            s.pointee.needsTruncate = true
            s.pointee.failures[generation] = (failure, callers)
            // The failed batch's seqs are given again when nothing was numbered after them (one appender, as the
            // agent has: the runtime loop, the results thread), so a full disk leaves no gap. No one saw them: the
            // durable end did not move, so no reader (delivery) read them, and the retry's bytes replace them.
            if let firstFailed = frames.first?.seq, s.pointee.nextSeq == frames[frames.count - 1].seq + 1 {
                s.pointee.nextSeq = firstFailed
            }
        } else {
            let nothingPending = s.pointee.index.records == s.pointee.deliveredCount
            s.pointee.needsTruncate = false
            for f in frames { s.pointee.index.add(seq: f.seq, offset: offset + f.at) }
            s.pointee.endOffset = offset + batch.count
            s.pointee.lastSeq = frames[frames.count - 1].seq
            if nothingPending { s.pointee.oldestPendingAt = firstOccurredAt }
        }
        g.broadcast()
    }

    // MARK: Reading events

    /// Events with seq > `after`, in seq order, at most `limit`.
    ///
    /// Reads from disk: a short scan from the nearest index entry, then one record after
    /// another. Only durable records are returned. A record that verifies but does not decode
    /// as an event is skipped and counted in `stats.unreadable`.
    public func events(after: Int64, limit: Int) throws(StoreError) -> [Event] {
        guard limit > 0 else { return [] }
        let (file, start, end) = try guarded.withLock { (s) throws(StoreError) in
            guard let file = s.file else { throw closedError("read") }
            return (file, s.index.entry(atOrBefore: after)?.offset ?? s.dataStart, s.endOffset)
        }
        var scanner = FrameScanner(file: file, from: start, to: end)
        var out: [Event] = []
        var last = after
        var unreadable: [Int64] = []
        let decoder = JSONDecoder()
        while out.count < limit, let item = try scanner.next() {
            guard case .record(.event, let seq, _, _, let payload?) = item, seq > last else { continue }
            if let event = try? decoder.decode(Event.self, from: Data(payload)), event.seq == seq {
                out.append(event)
                last = seq
            } else {
                unreadable.append(seq)
            }
        }
        if !unreadable.isEmpty {
            guarded.withLock { $0.unreadableSeqs.formUnion(unreadable) }
        }
        return out
    }

    // MARK: Delivery

    /// Delivery progress for the uplink: every event with seq <= `seq` is delivered. Persisted (atomic).
    ///
    /// A mark at or below the current one is a no-op; a mark above `lastSeq` is refused
    /// (`.invalidArgument`). Delivered events are kept for `chekt-bridge events` until
    /// compaction needs the room.
    public func markDelivered(through seq: Int64) throws(StoreError) {
        deliveryLock.lock()
        defer { deliveryLock.unlock() }
        let (current, last) = try guarded.withLock { (s) throws(StoreError) in
            guard !s.closed else { throw closedError("mark delivered") }
            return (s.deliveredThrough, s.lastSeq)
        }
        if seq <= current { return }
        guard seq <= last else {
            throw StoreError(code: .invalidArgument, path: deliveredPath, operation: "mark delivered",
                             message: "cannot mark seq \(seq) delivered: the last recorded seq is \(last)")
        }
        let record = Frame.encode(kind: .delivered, seq: seq, payload: Array("{\"delivered_through\":\(seq)}".utf8))
        try AtomicFile.write(record, to: deliveredPath)

        let g = guarded
        g.lock()
        let s = g.value
        s.pointee.deliveredThrough = seq
        // Newly delivered events may be retired: let the next growth retry a blocked compaction.
        s.pointee.nextCompactionAt = 0
        var failure: StoreError?
        do throws(StoreError) {
            let position = try Journal.deliveryPosition(in: s.pointee)
            s.pointee.deliveredCount = position.count
            s.pointee.oldestPendingAt = position.oldestPending
        } catch {
            failure = error
        }
        let compactNow = claimAutomaticCompaction(s)
        g.unlock()
        if compactNow { runAutomaticCompaction() }
        if let failure { throw failure }
    }

    // MARK: Closing

    /// Waits for appends in progress and any compaction, then closes the files and releases
    /// the lock. Later calls throw `.closed`; calling `close()` again does nothing.
    public func close() {
        let g = guarded
        g.lock()
        let s = g.value
        s.pointee.closed = true
        while s.pointee.leaderActive || !s.pointee.queue.isEmpty || s.pointee.compacting
            || s.pointee.compactionScheduled {
            g.wait()
        }
        s.pointee.file = nil
        if s.pointee.lockFD >= 0 {
            Syscall.close(s.pointee.lockFD)
            s.pointee.lockFD = -1
        }
        g.broadcast()
        g.unlock()
    }

    /// Tests: installs a hook the next leaders run before writing.
    func setBeforeCommit(_ hook: (@Sendable () -> StoreError?)?) {
        guarded.withLock { $0.beforeCommit = hook }
    }

    /// Tests: appends waiting in the batch not yet taken by a leader.
    var queuedAppends: Int { guarded.withLock { $0.queueCallers } }

    func closedError(_ operation: String) -> StoreError {
        StoreError(code: .closed, path: journalPath, operation: operation, message: "the journal is closed")
    }

    // MARK: Internals

    /// Takes the journal's lock file (`flock`, non-blocking).
    /// Returns the descriptor and, when something that is not a regular file was set aside to make it, a line for the log.
    private static func takeLock(_ path: String) throws(StoreError) -> (fd: Int32, problem: String?) {
        // Never opens a device: a symlink to /dev/watchdog there would start the watchdog.
        let (fd, problem) = try Syscall.openRegularSettingAside(path, O_RDWR | O_CREAT)
        switch Syscall.retrying({ flock(fd, LOCK_EX | LOCK_NB) }) {
        case .success: return (fd, problem)
        case .failure(let e):
            Syscall.close(fd)
            if e.code == EWOULDBLOCK {
                throw StoreError(code: .locked, path: path, operation: "lock journal", errno: e.code,
                                 message: "another process (a second chekt-bridge?) has this journal open: stop it, or give this one its own --state-dir")
            }
            throw e.error("lock journal", path)
        }
    }

    /// How many records are delivered, and when the first pending one occurred.
    static func deliveryPosition(in s: State) throws(StoreError) -> (count: Int, oldestPending: Millis?) {
        guard let file = s.file else { return (0, nil) }
        let through = s.deliveredThrough
        let entry = s.index.entry(atOrBefore: through)
        var count = entry?.ordinal ?? 0
        var scanner = FrameScanner(file: file, from: entry?.offset ?? s.dataStart, to: s.endOffset)
        var previous = Int64.min
        while let item = try scanner.next() {
            guard case .record(.event, let seq, _, _, let payload?) = item, seq > previous else { continue }
            previous = seq
            if seq <= through {
                count += 1
            } else {
                let event = try? JSONDecoder().decode(Event.self, from: Data(payload))
                return (count, event.flatMap { Timestamp.parse($0.occurredAt) })
            }
        }
        return (count, nil)
    }
}

/// The journal's mutable state, guarded by `Journal.guarded`.
struct State {
    var file: OpenFile?
    var lockFD: Int32
    var closed = false
    /// Where event records start (after the header record).
    var dataStart: Int
    /// End of the durable records: readers stop here, the next batch is written here.
    var endOffset: Int
    /// A failed write may have left bytes past `endOffset`.
    var needsTruncate = false
    var index: SparseIndex
    /// The highest seq that is durable (or reserved by recovery).
    var lastSeq: Int64
    var nextSeq: Int64
    var dropped: Int64
    var deliveredThrough: Int64
    /// Event records with seq <= deliveredThrough.
    var deliveredCount = 0
    var oldestPendingAt: Millis?

    // Group commit.
    var queue: [UInt8] = []
    var queueFrames: [QueuedFrame] = []
    var queueCallers = 0
    var queueFirstOccurredAt: Millis?
    /// The generation of the batch now collecting in `queue`.
    var queueGeneration: UInt64 = 1
    /// Every batch up to this generation is finished (written or failed).
    var completedGeneration: UInt64 = 0
    var failures: [UInt64: (error: StoreError, waiters: Int)] = [:]
    var leaderActive = false
    var commits = 0
    /// Test hook: runs on the leader just before its write; an error returned is treated as
    /// the write's failure (tests of the failure path without filling a disk).
    var beforeCommit: (@Sendable () -> StoreError?)?

    // Compaction.
    var compacting = false
    var compactionScheduled = false
    /// Do not try automatic compaction again before the file reaches this size (after a failed
    /// or insufficient attempt); 0 = whenever it is over the bound.
    var nextCompactionAt = 0
    var overBound = false
    var compactionError: StoreError?
    var compactions = 0

    var unreadableSeqs: Set<Int64> = []

    init(file: OpenFile, lockFD: Int32, dataStart: Int, endOffset: Int, index: SparseIndex, lastSeq: Int64,
         dropped: Int64, deliveredThrough: Int64) {
        self.file = file; self.lockFD = lockFD; self.dataStart = dataStart; self.endOffset = endOffset
        // Recovery gives lastSeq <= Frame.maxSeq; the next one may be one past it (then appends are refused).
        self.index = index; self.lastSeq = lastSeq; self.nextSeq = min(lastSeq, Frame.maxSeq) + 1; self.dropped = dropped
        self.deliveredThrough = deliveredThrough
    }
}

/// Where a queued record sits in the batch being collected.
struct QueuedFrame {
    var seq: Int64
    var at: Int
}

/// An event encoded up to its seq: the JSON before and after `"seq":N`.
///
/// The payload is the event as protocol.md sends it, keys sorted:
/// `{"data":{...},"id":"evt_...","occurred_at":"...","seq":N,"type":"..."}`.
struct PreparedEvent {
    let id: String
    let type: String
    let occurredAt: String
    let data: JSONObject
    private let head: [UInt8]
    private let tail: [UInt8]

    init(_ draft: EventDraft) {
        id = EventID.make(time: draft.occurredAt)
        type = draft.type
        occurredAt = Timestamp.rfc3339(draft.occurredAt)
        data = draft.data
        var h = Array(#"{"data":"#.utf8)
        h += JSONValue.object(draft.data).encoded()
        h += Array(#","id":""#.utf8) + Array(id.utf8)
        h += Array(#"","occurred_at":""#.utf8) + Array(occurredAt.utf8)
        h += Array(#"","seq":"#.utf8)
        head = h
        tail = Array(#","type":"#.utf8) + JSONValue.string(draft.type).encoded() + [UInt8(ascii: "}")]
    }

    /// The payload size with the longest seq there can be.
    var payloadSizeBound: Int { head.count + 20 + tail.count }

    func frame(seq: Int64, into out: inout [UInt8]) {
        var payload = head
        payload.reserveCapacity(head.count + 20 + tail.count)
        payload += Array(String(seq).utf8)
        payload += tail
        Frame.append(kind: .event, seq: seq, payload: payload, to: &out)
    }
}

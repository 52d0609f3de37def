/// The agent's state snapshot file (the engine's PersistedState encoded by the agent, as bytes) with a checksum.
///
/// The file is one record ('S' kind, see `Frame`): header with CRC-32C, then the payload
/// unchanged. `save` replaces it atomically (`AtomicFile`), so after a crash the file is the
/// previous snapshot or the new one. The payload format is the agent's business.
///
/// A step that records events commits its state with them: `saveAhead` writes the step's snapshot to
/// `<path>.next` (durably) before the journal append, and `commitAhead` renames it over `path` after it. The journal
/// append is the commit point: `settleAhead`, at the next start, promotes a `.next` whose step's last event is in
/// the journal and removes one whose events are not. So the state restored never lags the journal's events (an
/// armed partition whose `partition.armed` was recorded never comes back disarmed), nor runs ahead of them.
public struct SnapshotFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Replaces the snapshot atomically (temp file, fsync, rename, folder fsync).
    public func save(_ payload: [UInt8]) throws(StoreError) {
        try Self.write(payload, seq: 1, to: path)
    }

    /// One 'S' record with `seq`, written atomically to `file`; a payload over the record limit is refused.
    private static func write(_ payload: [UInt8], seq: Int64, to file: String) throws(StoreError) {
        guard payload.count <= Frame.maxFilePayload else {
            throw StoreError(code: .tooLarge, path: file, operation: "save snapshot",
                             message: "a snapshot of \(payload.count) bytes is over the \(Frame.maxFilePayload)-byte limit")
        }
        try AtomicFile.write(Frame.encode(kind: .snapshot, seq: seq, payload: payload), to: file)
    }

    /// Where `saveAhead` writes: the snapshot of a step whose events are being appended.
    public var aheadPath: String { path + ".next" }

    /// Writes the snapshot of a step ahead of its events (temp file, fsync, rename, folder fsync): the step is
    /// committed once the journal holds event `throughSeq`, the step's last; its record's seq is that seq.
    public func saveAhead(_ payload: [UInt8], throughSeq: Int64) throws(StoreError) {
        try Self.write(payload, seq: throughSeq, to: aheadPath)
    }

    /// The step's events are recorded: its snapshot becomes the snapshot. No folder fsync: should the rename be
    /// lost, `settleAhead` finds the step committed in the journal and renames it again.
    public func commitAhead() throws(StoreError) {
        try Syscall.rename(aheadPath, path)
    }

    /// At start, before `load`: a `.next` left by a run that stopped between its step's append and the rename is
    /// made the snapshot when `committed(seq)` says the journal has the step's last event, and removed otherwise (its
    /// events were not recorded, so neither is its state; a damaged one was being written, before any append).
    /// Returns what was done, for the log; nil when there was no `.next`.
    public func settleAhead(committed: (Int64) -> Bool) throws(StoreError) -> String? {
        try AtomicFile.removeStaleTemporaries(for: aheadPath)
        let bytes: [UInt8]?
        do throws(StoreError) { bytes = try AtomicFile.read(aheadPath, limit: Frame.maxFileSize) } catch { bytes = nil }
        guard let bytes else {
            guard Syscall.exists(aheadPath) else { return nil }
            try Syscall.unlinkIfPresent(aheadPath)
            return "\(aheadPath) could not be read; removed: its step's events were not recorded"
        }
        guard case .success(let record) = Frame.decodeSingle(bytes, kind: .snapshot) else {
            try Syscall.unlinkIfPresent(aheadPath)
            return "\(aheadPath) was cut short (written when the agent stopped, before its step's events); removed"
        }
        if committed(record.seq) {
            try Syscall.rename(aheadPath, path)
            return "\(aheadPath): its step's events (through seq \(record.seq)) are recorded; it is the snapshot now"
        }
        try Syscall.unlinkIfPresent(aheadPath)
        return "\(aheadPath): its step's events (through seq \(record.seq)) were not recorded; removed, the state is the snapshot before it"
    }

    /// Moves a snapshot that reads but cannot be used (a format version this agent does not know: written by a
    /// newer agent before a downgrade) out of the way as `load` does a damaged one, so the next `save` does not
    /// destroy it. Returns where it went.
    public func setAside() throws(StoreError) -> String {
        try AtomicFile.setAside(path)
    }

    /// nil when absent; a snapshot that fails its checksum, or cannot be read → throws a `.corrupt` StoreError saying so.
    ///
    /// The bad file is renamed to `<name>.corrupt-<epoch ms>` first (named in the error), so
    /// the next `save` overwrites nothing and the bytes stay for a post-mortem; the agent logs
    /// the error and starts from no snapshot. A file that is not a regular file (a FIFO, a symlink to a device)
    /// or is larger than any snapshot (`Frame.maxFileSize`) is refused unread and set aside the same way.
    /// Also removes temp files a crash left behind: call it before any `save`, not concurrently with one.
    public func load() throws(StoreError) -> [UInt8]? {
        try AtomicFile.removeStaleTemporaries(for: path)
        let bytes: [UInt8]
        do throws(StoreError) {
            guard let read = try AtomicFile.read(path, limit: Frame.maxFileSize) else { return nil }
            bytes = read
        } catch {
            // Unreadable here is unreadable at every start: move it out of the way (a folder left there would
            // also make every `save` fail), keep it, and start without it.
            let aside = try AtomicFile.setAside(path)
            throw StoreError(code: .corrupt, path: path, operation: "load snapshot", errno: error.errno,
                             message: "the state snapshot cannot be used (\(error.message)); it was moved to \(aside) and is not used")
        }
        switch Frame.decodeSingle(bytes, kind: .snapshot) {
        case .success(let record):
            return Array(record.payload)
        case .failure(let problem):
            let aside = try AtomicFile.setAside(path)
            throw StoreError(code: .corrupt, path: path, operation: "load snapshot",
                             message: "the state snapshot failed its check (\(problem.reason)); it was moved to \(aside) and is not used")
        }
    }
}

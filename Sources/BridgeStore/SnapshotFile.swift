/// The agent's state snapshot file (the engine's PersistedState encoded by the agent, as bytes) with a checksum.
///
/// The file is one record ('S' kind, see `Frame`): header with CRC-32C, then the payload
/// unchanged. `save` replaces it atomically (`AtomicFile`), so after a crash the file is the
/// previous snapshot or the new one. The payload format is the agent's business.
public struct SnapshotFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Replaces the snapshot atomically (temp file, fsync, rename, folder fsync).
    public func save(_ payload: [UInt8]) throws(StoreError) {
        guard payload.count <= Frame.maxFilePayload else {
            throw StoreError(code: .tooLarge, path: path, operation: "save snapshot",
                             message: "a snapshot of \(payload.count) bytes is over the \(Frame.maxFilePayload)-byte limit")
        }
        try AtomicFile.write(Frame.encode(kind: .snapshot, seq: 1, payload: payload), to: path)
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

/// Walks the records of a file region in order, reading through a window so memory stays
/// bounded, and resynchronises after damage.
///
/// A record that fails its check (bad magic, impossible length, checksum mismatch,
/// truncated) is returned as a `.damaged` region: from its offset to the next offset where
/// a record verifies completely, or to the end of the region. A false resync is
/// practically excluded: the candidate needs the magic, a known kind, a sane length and
/// a matching CRC-32C over its header and payload.
struct FrameScanner {
    /// One step of the walk.
    enum Item {
        /// A verified record; `payload` is only filled for kinds in `payloadKinds`.
        case record(kind: Frame.Kind, seq: Int64, offset: Int, size: Int, payload: ArraySlice<UInt8>?)
        /// Bytes that are not records, and why the first of them failed.
        case damaged(offset: Int, length: Int, reason: String)
    }

    let file: OpenFile
    private(set) var position: Int
    let end: Int
    let maxPayload: Int
    /// Kinds whose payload the caller wants (the others are only verified).
    var payloadKinds: Set<Frame.Kind>

    private var window: [UInt8] = []
    private var windowStart = 0
    /// The next read's size: most scans (a page of events, a delivery mark) need a few KiB,
    /// whole-file scans grow it to `maxWindow` so they read in large blocks.
    private var readSize = 16 * 1024
    private static let maxWindow = 256 * 1024

    init(file: OpenFile, from start: Int, to end: Int, maxPayload: Int = Frame.maxEventPayload,
         payloadKinds: Set<Frame.Kind> = [.event]) {
        self.file = file; self.position = start; self.end = end
        self.maxPayload = maxPayload; self.payloadKinds = payloadKinds
    }

    /// The next record or damaged region; nil at the end of the region.
    mutating func next() throws(StoreError) -> Item? {
        guard position < end else { return nil }
        let p = position
        switch try check(at: p) {
        case .ok(let kind, let seq, let length):
            let size = Frame.headerSize + length
            position = p + size
            var payload: ArraySlice<UInt8>?
            if payloadKinds.contains(kind) {
                let from = p - windowStart + Frame.headerSize
                payload = window[from..<(from + length)]
            }
            return .record(kind: kind, seq: seq, offset: p, size: size, payload: payload)
        case .bad(let reason):
            let q = try resync(from: p + 1)
            position = q
            return .damaged(offset: p, length: q - p, reason: reason)
        case .needs:
            preconditionFailure("check(at:) resolves .needs")
        }
    }

    /// Copies the bytes of `offset..<offset+count` (inside the region), e.g. to keep a damaged tail.
    mutating func bytes(at offset: Int, count: Int) throws(StoreError) -> [UInt8] {
        try Syscall.pread(file.fd, count: count, at: offset, path: file.path)
    }

    /// The raw bytes of a record just returned (header and payload), for copying it unchanged.
    mutating func frameBytes(offset: Int, size: Int) throws(StoreError) -> ArraySlice<UInt8> {
        let available = try ensure(offset, size)
        guard available == size else {
            throw StoreError(code: .io, path: file.path, operation: "read",
                             message: "the file ended at offset \(offset + available) inside a record that was just read")
        }
        let from = offset - windowStart
        return window[from..<(from + size)]
    }

    private mutating func check(at p: Int) throws(StoreError) -> Frame.Check {
        var want = Frame.headerSize
        while true {
            let available = try ensure(p, want)
            let from = p - windowStart
            let result = window.withUnsafeBytes {
                Frame.check(UnsafeRawBufferPointer(rebasing: $0[from..<(from + available)]), maxPayload: maxPayload)
            }
            switch result {
            case .needs(let total):
                if available < want || total > end - p {
                    // The region ends before the record does.
                    let present = end - p
                    return total == Frame.headerSize && present < Frame.headerSize
                        ? .bad("truncated record header (\(present) of \(Frame.headerSize) bytes)")
                        : .bad("truncated record (\(present) of \(total) bytes)")
                }
                want = total
            case .ok, .bad:
                return result
            }
        }
    }

    /// The offset of the first verifying record after `start`, or `end`.
    private mutating func resync(from start: Int) throws(StoreError) -> Int {
        var q = start
        while q + Frame.headerSize <= end {
            let available = try ensure(q, Swift.min(Self.maxWindow / 2, end - q))
            let from = q - windowStart
            // Find the next 0xFF in what is loaded.
            let hit: Int? = window.withUnsafeBytes { raw in
                var i = from
                let stop = from + available
                while i < stop {
                    if raw[i] == Frame.magic.0 { return i - from }
                    i += 1
                }
                return nil
            }
            guard let h = hit else {
                q += available
                // A hole (a sparse file: a hand-made one, or a size set past the data) reads as zeros, where no
                // record starts: jump over it rather than reading it, so a 64 GB hole costs a seek, not minutes.
                if q < end, q >= windowStart + window.count {
                    guard let data = Syscall.nextData(file.fd, from: q), data < end else { return end }
                    q = Swift.max(q, data)
                }
                continue
            }
            let candidate = q + h
            if case .ok = try check(at: candidate) { return candidate }
            q = candidate + 1
        }
        return end
    }

    /// Makes `window` cover `p..<p+count` (clipped to `end`); returns how many bytes from `p` are there.
    private mutating func ensure(_ p: Int, _ count: Int) throws(StoreError) -> Int {
        let need = Swift.min(count, end - p)
        if p >= windowStart, p + need <= windowStart + window.count { return need }
        let size = Swift.min(Swift.max(need, readSize), end - p)
        readSize = Swift.min(readSize * 2, Self.maxWindow)
        if window.count != size { window = [UInt8](repeating: 0, count: size) }
        let fd = file.fd
        let path = file.path
        let got = try window.withUnsafeMutableBytes { raw in
            Result { () throws(StoreError) in try Syscall.preadFully(fd, into: raw, at: p, path: path) }
        }.get()
        if got < size { window.removeLast(size - got) }
        windowStart = p
        return Swift.min(need, got)
    }
}

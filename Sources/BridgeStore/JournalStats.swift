import BridgeCore

/// A snapshot of the journal's counters for `status` and the heartbeat.
public struct JournalStats: Sendable, Equatable {
    /// Event records in the journal file, delivered or not.
    public var records: Int
    /// Records with seq > `deliveredThrough`: what the uplink still has to send.
    public var pending: Int
    /// `occurredAt` of the first pending event in seq order; nil when nothing is pending.
    public var oldestPendingAt: Millis?
    /// Size of the journal file.
    public var bytesOnDisk: Int
    /// The bound (`outbox.max_mb`).
    public var maxBytes: Int
    /// Undelivered events removed by compaction, ever (persisted in the journal header).
    public var dropped: Int64
    /// True when compaction could not get under `maxBytes` because only events that are
    /// never dropped (alarm.created, command.result) are pending: the bound is exceeded on purpose.
    public var overBound: Bool
    public var lastSeq: Int64
    public var deliveredThrough: Int64
    /// Compactions done since open.
    public var compactions: Int
    /// The last compaction failure since open, if the latest attempt failed.
    public var compactionError: StoreError?
    /// Write + fdatasync rounds since open: with group commit, fewer than appends under load.
    public var commits: Int
    /// Verified records that could not be decoded as events when read (skipped).
    public var unreadable: Int
}

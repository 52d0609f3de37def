import CGlibcExtras
import Synchronization

/// Gives memory that the heap holds free back to the system.
///
/// glibc keeps freed memory for reuse: after a burst (a long-poll answer carrying a few hundred commands, a
/// drained backlog, a large `events` query) the agent kept 2–3 MB of private memory it no longer used, measured
/// with `RssAnon`. `malloc_trim` releases the free pages of every arena. Called where a burst ends; the check
/// first (`mallinfo2`, a walk of the free lists) keeps it cheap when there is little to give back.
public enum Heap {
    /// Free bytes the heap may hold before `trim` gives them back.
    public static let keep = 1 << 20

    /// Free bytes held by the heap, all arenas.
    public static var freeBytes: Int { Int(mallinfo2().fordblks) }

    /// Blocks of this size and more get a mapping of their own, given back to the system when freed.
    public static let ownMappingFrom = 128 << 10

    /// Fixes glibc's mmap threshold at `ownMappingFrom`. Call once, before any thread exists.
    ///
    /// By default glibc raises the threshold to the size of the largest mapped block freed so far (up to 32 MiB),
    /// and the trim threshold to twice that. From then on, buffers of that size (a control client's request line,
    /// up to 1 MiB; a page of events) come from the arenas, of which glibc makes up to 8 per core for the agent's
    /// threads, and each arena keeps up to twice the threshold at its top: `malloc_trim` does not release an
    /// arena's top, only free chunks below it. Measured: after 40 clients at once each sending 10 MB without a
    /// newline (32 served, each line read to its 1 MiB limit), the agent kept 20-28 MB of private memory in 11
    /// arenas, round after round; with the threshold fixed, 2-3 MB (docs/reliability.md, "Floods and
    /// starvation"). A fixed threshold also keeps the trim threshold at its 128 KiB default. Cost: a mapping per
    /// large block; no change in the 100,000-event drain was measurable.
    /// True when glibc took it. Its effect on the agent is checked by `chekt-bridge-bench flood-clients` (memory
    /// back within 8 MiB of the start after 40 long lines), which fails without it.
    @discardableResult
    public static func fixMmapThreshold() -> Bool {
        mallopt(M_MMAP_THRESHOLD, Int32(ownMappingFrom)) == 1
    }

    /// Releases the heap's free pages when more than `keep` bytes are free. True when it did. One thread at a time:
    /// `malloc_trim` walks every arena, so a thread that finds another trimming returns at once (false).
    @discardableResult
    public static func trim() -> Bool {
        guard trimming.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { trimming.store(false, ordering: .releasing) }
        guard freeBytes > keep else { return false }
        return malloc_trim(0) == 1
    }

    private static let trimming = Atomic<Bool>(false)
}

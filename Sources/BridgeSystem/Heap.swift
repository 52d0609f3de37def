import CGlibcExtras

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

    /// Releases the heap's free pages when more than `keep` bytes are free. True when it did.
    @discardableResult
    public static func trim() -> Bool {
        guard freeBytes > keep else { return false }
        return malloc_trim(0) == 1
    }
}

/// An open file descriptor with one owner, closed when the last reference goes.
///
/// Readers take a reference before reading outside the journal's lock; compaction
/// swaps the journal's file for a new one, and the old descriptor stays valid (it
/// still reads the old, unlinked file) until the last reader lets go. That is why
/// this is a class and not a bare `Int32`: a closed-and-reused descriptor number
/// would silently read another file.
final class OpenFile: Sendable {
    let fd: Int32
    let path: String

    init(fd: Int32, path: String) {
        self.fd = fd; self.path = path
    }

    deinit { Syscall.close(fd) }
}

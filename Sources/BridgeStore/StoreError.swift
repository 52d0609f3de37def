/// A storage failure: which file, what was being done, the errno.
///
/// `code` classifies the failure so the agent can react (e.g. `.noSpace` →
/// report disk full) without parsing `message`, which is written for the
/// technician reading the log.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Hashable {
        /// A path component that must be a folder is a regular file (ENOTDIR), or the state dir is not a folder.
        case notADirectory = "not_a_directory"
        /// EACCES / EPERM: the agent's user may not read or write there.
        case permissionDenied = "permission_denied"
        /// ENOSPC / EDQUOT: the state partition is full.
        case noSpace = "no_space"
        /// EROFS: the state partition is mounted read-only.
        case readOnly = "read_only"
        /// ENOENT where the file had to exist.
        case notFound = "not_found"
        /// Another process holds the journal's lock file.
        case locked
        /// A checksum, frame or format check failed.
        case corrupt
        /// The journal was closed before or during the call.
        case closed
        /// The caller passed a value the store cannot accept (a programming error in the caller).
        case invalidArgument = "invalid_argument"
        /// A record larger than the store accepts, or a file of the state folder larger than any the store writes.
        case tooLarge = "too_large"
        /// A file of the state folder that is not a regular file (a FIFO, a device, a folder, a socket): refused unread.
        case notRegularFile = "not_regular_file"
        /// No seq is left below the seq ceiling (2^53, `Journal.maxSeq`): only an impossible seq left in the state
        /// folder (a floor or delivery mark near the ceiling) brings a journal there.
        case seqCeiling = "seq_ceiling"
        /// Any other I/O failure; `errno` says which.
        case io
    }

    public var code: Code
    public var path: String
    public var operation: String
    public var errno: Int32?
    public var message: String

    /// Makes an error; without a `code`, it is derived from `errno` (`.io` when there is none).
    public init(code: Code? = nil, path: String, operation: String, errno: Int32? = nil, message: String) {
        self.code = code ?? errno.map(Code.init(errno:)) ?? .io
        self.path = path; self.operation = operation; self.errno = errno; self.message = message
    }

    public var description: String {
        var s = "\(path): \(operation): \(message)"
        if let errno { s += " (errno \(errno))" }
        return s
    }
}

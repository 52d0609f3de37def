/// A storage failure: which file, what was being done, the errno.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var errno: Int32?
    public var message: String
    public init(path: String, operation: String, errno: Int32? = nil, message: String) {
        self.path = path; self.operation = operation; self.errno = errno; self.message = message
    }
    public var description: String {
        var s = "\(path): \(operation): \(message)"
        if let errno { s += " (errno \(errno))" }
        return s
    }
}

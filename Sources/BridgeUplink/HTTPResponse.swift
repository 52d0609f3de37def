/// A complete HTTP response: any status, headers with lower-cased names, the decoded body.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// In the order received; names lower-cased, values trimmed. Only the final response's headers
    /// (not those of a `100 Continue` or of a proxy's `CONNECT`).
    public var headers: [(String, String)]
    /// The body after `Content-Encoding` was undone by libcurl.
    public var body: [UInt8]
    /// True when the request went over a connection kept alive from an earlier request
    /// (`CURLINFO_NUM_CONNECTS` was 0); false when a new connection was made for it.
    public var reusedConnection: Bool

    /// Makes a response (tests and fakes build them by hand).
    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], reusedConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.reusedConnection = reusedConnection
    }

    /// The first value of the header `name` (any case), or nil.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.0 == wanted }?.1
    }

    /// Every value of the header `name` (any case), in order.
    public func headers(named name: String) -> [String] {
        let wanted = name.lowercased()
        return headers.filter { $0.0 == wanted }.map(\.1)
    }
}

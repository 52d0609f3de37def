/// One HTTP request as `HTTPClient` sends it: nothing is added but `User-Agent` and transport headers.
///
/// `body` is sent byte for byte, so a signature computed over it (see
/// `Signature`) is a signature over exactly what goes on the wire.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, `PUT`, ... (an HTTP token; `HTTPClient` refuses anything else).
    public var method: String
    /// An absolute `http://` or `https://` URL.
    public var url: String
    /// Sent in this order. A name may repeat; a value must not contain CR, LF or NUL.
    public var headers: [(String, String)]
    public var body: [UInt8]

    /// Makes a request; `GET` with no headers and no body unless told otherwise.
    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

/// Response helpers: every answer of the platform is JSON (or empty), as protocol.md says.
enum Reply {
    /// A response header naming the fault that shaped the answer: shown to clients and read by the request log.
    static let faultHeader = HTTPField.Name("X-Platform-Sim-Fault")!
    /// A response header listing the `seq`s a POST of events carried (whatever the answer): read by the request log.
    static let seqsHeader = HTTPField.Name("X-Platform-Sim-Seqs")!
    /// `X-Chekt-Signature`.
    static let signatureHeader = HTTPField.Name("X-Chekt-Signature")!
    /// `X-Bridge-Id`.
    static let bridgeIDHeader = HTTPField.Name("X-Bridge-Id")!

    static func json(_ status: HTTPResponse.Status, _ body: JSONValue, headers: HTTPFields = [:]) -> Response {
        bytes(status, body.bytes, headers: headers)
    }

    static func bytes(_ status: HTTPResponse.Status, _ body: [UInt8], headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        h[.contentLength] = String(body.count)
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `{"error": code, "message": message}`.
    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:])
        -> Response
    {
        json(status, ["error": .string(code), "message": .string(message)], headers: headers)
    }

    static func noContent() -> Response { Response(status: .noContent) }

    static func html(_ text: String) -> Response {
        let body = Array(text.utf8)
        return Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8", .contentLength: String(body.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension Request {
    /// The body as bytes, or a JSON 413 when it is larger than the context allows.
    mutating func bodyBytes(context: SimRequestContext) async throws -> Result<[UInt8], BodyTooLarge> {
        do {
            let buffer = try await collectBody(upTo: context.maxUploadSize)
            return .success(Array(buffer.readableBytesView))
        } catch is NIOTooManyBytesError {
            return .failure(BodyTooLarge())
        }
    }
}

/// A body past `SimRequestContext.maxUploadSize`.
struct BodyTooLarge: Error {}

extension Reply {
    /// A ready answer carried through a `Result` (an error response rather than a thrown error).
    struct Failure: Error, Sendable { let response: Response }
}

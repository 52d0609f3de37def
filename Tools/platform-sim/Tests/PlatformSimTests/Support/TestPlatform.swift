import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import PlatformSim

/// An answer as the tests read it.
struct Answer: CustomStringConvertible {
    let status: Int
    let headers: HTTPHeaders
    let body: [UInt8]

    var json: JSONValue {
        get throws { try JSONValue.parse(body) }
    }

    func header(_ name: String) -> String? { headers.first(name: name) }

    var description: String { "HTTP \(status) \(String(decoding: body.prefix(500), as: UTF8.self))" }
}

/// A platform served in-process on a free loopback port, with a real HTTP client talking to it.
///
/// Bridges: `brg_a` (key_a / secret_a) and `brg_b` (key_b / secret_b) unless a test passes its own.
struct TestPlatform {
    static let bridgeA = BridgeRegistration(
        id: "brg_a", credentials: BridgeCredentials(apiKey: "key_a", signingSecret: "secret_a"))
    static let bridgeB = BridgeRegistration(
        id: "brg_b", credentials: BridgeCredentials(apiKey: "key_b", signingSecret: "secret_b"))

    let store: PlatformStore
    let port: Int

    /// Starts a platform, runs `body` against it, and stops it whatever happens.
    static func with<T>(
        bridges: [BridgeRegistration] = [bridgeA, bridgeB], _ body: (TestPlatform) async throws -> T
    ) async throws -> T {
        let store = PlatformStore(bridges: bridges)
        let server = PlatformServer(store: store, host: "127.0.0.1", port: 0, logRequests: false)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let task = Task {
            defer { continuation.finish() }
            try await server.run { continuation.yield($0) }
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            _ = try await task.value
            throw TestFailure("the platform stopped before listening")
        }
        let platform = TestPlatform(store: store, port: port)
        do {
            let result = try await body(platform)
            store.shutDown()
            try await task.value
            return result
        } catch {
            store.shutDown()
            _ = try? await task.value
            throw error
        }
    }

    // MARK: Plain requests

    func request(
        _ method: HTTPMethod, _ path: String, body: [UInt8] = [], headers: [(String, String)] = [],
        timeout: TimeAmount = .seconds(30)
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if !body.isEmpty || method == .POST || method == .PUT {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView))
    }

    func admin(_ method: HTTPMethod, _ path: String, _ body: JSONValue? = nil) async throws -> Answer {
        try await request(method, "/admin" + path, body: body?.bytes ?? [])
    }

    func addFault(_ fault: JSONValue) async throws {
        let answer = try await admin(.POST, "/faults", fault)
        guard answer.status == 201 else {
            throw TestFailure("fault refused: \(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
        }
    }

    @discardableResult
    func issue(_ command: JSONValue, bridge: String = "brg_a") async throws -> JSONValue {
        let answer = try await admin(.POST, "/bridges/\(bridge)/commands", command)
        guard answer.status == 201 else {
            throw TestFailure("command refused: \(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
        }
        return try answer.json
    }

    // MARK: Bridge requests, signed as the agent signs them

    /// A bridge request with the bridge's key, id and a signature over the exact body at `t` (default: now).
    func bridge(
        _ method: HTTPMethod, _ suffix: String, body: [UInt8] = [], as registration: BridgeRegistration = bridgeA,
        t: Int64? = nil, key: String? = nil, secret: String? = nil, bridgeHeader: String? = nil,
        timeout: TimeAmount = .seconds(30)
    ) async throws -> Answer {
        let time = t ?? Int64(Date().timeIntervalSince1970)
        let signature = TestHMAC.header(secret: secret ?? registration.credentials.signingSecret, body: body, t: time)
        return try await request(
            method, "/v1/bridges/\(registration.id)\(suffix)", body: body,
            headers: [
                ("Authorization", "Bearer \(key ?? registration.credentials.apiKey)"),
                ("X-Bridge-Id", bridgeHeader ?? registration.id),
                ("X-Chekt-Signature", signature),
                ("User-Agent", "chekt-bridge/test"),
            ], timeout: timeout)
    }

    func postEvents(_ events: [JSONValue], as registration: BridgeRegistration = bridgeA) async throws -> Answer {
        try await bridge(.POST, "/events", body: JSONValue.object(["events": .array(events)]).bytes, as: registration)
    }

    func poll(cursor: String? = nil, wait: Double, as registration: BridgeRegistration = bridgeA) async throws -> Answer {
        var query = "?wait=\(wait)"
        if let cursor { query += "&cursor=\(cursor)" }
        return try await bridge(.GET, "/commands\(query)", as: registration)
    }
}

/// HMAC-SHA256 computed in the tests independently of `Signature` (same library, separate code), so that the
/// platform's signing and verification are checked against something other than themselves.
enum TestHMAC {
    static func hex(secret: String, body: [UInt8], t: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array("\(t).".utf8) + body, using: SymmetricKey(data: Array(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    static func header(secret: String, body: [UInt8], t: Int64) -> String {
        "t=\(t),v1=\(hex(secret: secret, body: body, t: t))"
    }

    /// Whether a response's `X-Chekt-Signature` is a valid signature of its body under `secret`.
    static func verifies(_ answer: Answer, secret: String) -> Bool {
        guard let header = answer.header("X-Chekt-Signature") else { return false }
        let parts = Dictionary(
            header.split(separator: ",").map { part -> (String, String) in
                let kv = part.split(separator: "=", maxSplits: 1)
                return (String(kv[0]), kv.count > 1 ? String(kv[1]) : "")
            }, uniquingKeysWith: { first, _ in first })
        guard let t = parts["t"].flatMap({ Int64($0) }), let v1 = parts["v1"] else { return false }
        return hex(secret: secret, body: answer.body, t: t) == v1
    }
}

/// An event object as the agent sends it.
func event(_ id: String, seq: Int64, type: String = "zone.faulted", data: JSONValue = ["zone": "front_door"])
    -> JSONValue
{
    ["id": .string(id), "seq": .integer(seq), "type": .string(type), "occurred_at": "2026-11-29T18:00:00.123Z", "data": data]
}

/// A failure with a message, for `throw` in helpers.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Milliseconds elapsed while running `body`.
func elapsedMs<T>(_ body: () async throws -> T) async rethrows -> (T, Int64) {
    let start = ContinuousClock.now
    let value = try await body()
    let d = ContinuousClock.now - start
    return (value, d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
}

extension JSONValue {
    /// The strings of an array member, for compact expectations.
    func strings(_ key: String) -> [String] { self[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// The HTTP server: the bridge API, the admin API and the demo page on one port.
///
/// It drives HummingbirdCore's HTTP/1.1 server directly rather than through `Hummingbird.Application` for two
/// reasons: `Application` overwrites `Date` with real time after every handler, and a `clock_skew` fault must shift
/// it; and `Application` turns every thrown error into a 500, while a `drop` fault must close the connection with no
/// answer at all (HummingbirdCore closes the channel when the responder throws).
public struct PlatformServer: Sendable {
    /// The platform's state.
    public let store: PlatformStore
    /// Address to bind (default loopback).
    public let host: String
    /// Port to bind; 0 picks a free one (the real one is passed to `onListening`).
    public let port: Int
    /// Whether to write one line per request on stderr.
    public let logRequests: Bool

    /// A server over `store`.
    public init(store: PlatformStore, host: String = "127.0.0.1", port: Int = 8443, logRequests: Bool = true) {
        self.store = store
        self.host = host
        self.port = port
        self.logRequests = logRequests
    }

    /// Binds and serves until `store.shutDown()` is called, one of `shutdownSignals` arrives, or the task is
    /// cancelled.
    ///
    /// `onListening` gets the bound port once the socket listens. On graceful shutdown, long polls in progress are
    /// answered at once with an empty list and the server stops once the requests in flight are answered.
    public func run(
        shutdownSignals: [UnixSignal] = [], onListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        // stderr, not swift-log's default stdout: stdout carries the listening line only.
        var quietLogger = Logger(label: "platform-sim", factory: { StreamLogHandler.standardError(label: $0) })
        quietLogger.logLevel = .warning
        let logger = quietLogger
        let router = Router(context: SimRequestContext.self)
        BridgeAPI(store: store).register(on: router)
        AdminAPI(store: store).register(on: router)
        router.get("/") { _, context in
            guard context.isLoopback else {
                return Reply.error(.forbidden, "loopback_only", "the demo page answers loopback peers only")
            }
            return Reply.html(DemoPage.html)
        }
        let responder = router.buildResponder()
        let store = self.store
        let logRequests = self.logRequests

        let server = try HTTPServerBuilder.http1().buildServer(
            configuration: ServerConfiguration(address: .hostname(host, port: port), serverName: nil),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger,
            responder: { request, writer, channel in
                let started = store.realNow()
                let arrivedAt = store.now()
                let context = SimRequestContext(source: .init(channel: channel, logger: logger))
                // libcurl waits a second for "100 Continue" before sending a body it announced with
                // `Expect: 100-continue` (it does for bodies of 1 MiB and more); answer at once.
                if request.headers[.expect]?.lowercased() == "100-continue" {
                    try await writer.writeInformationalHead(HTTPResponse(status: .continue))
                }
                var response: Response
                do {
                    response = try await responder.respond(to: request, context: context)
                } catch let drop as ConnectionDrop {
                    Self.record(
                        store, request, status: 0, arrivedAt: arrivedAt, started: started,
                        fault: drop.afterProcessing ? "drop(after)" : "drop", logRequests: logRequests)
                    throw drop
                } catch {
                    response = Reply.error(.internalServerError, "internal", "\(error)")
                }
                response.headers[.date] = Timestamp.httpDate(store.now())
                Self.record(
                    store, request, status: response.status.code, arrivedAt: arrivedAt, started: started,
                    fault: response.headers[Reply.faultHeader], logRequests: logRequests,
                    seqs: response.headers[Reply.seqsHeader].map { $0.split(separator: ",").compactMap { Int64($0) } })
                try await writer.write(response: response.head, body: response.body)
            },
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }
        )
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: server),
                .init(service: ShutdownSwitch(store: store), successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            logger: logger)
        configuration.gracefulShutdownSignals = shutdownSignals
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
    }

    /// Notes a request in its bridge's log (for `/v1/bridges/{id}/…`) and, if asked, on stderr.
    private static func record(
        _ store: PlatformStore, _ request: Request, status: Int, arrivedAt: Millis, started: Millis, fault: String?,
        logRequests: Bool, seqs: [Int64]? = nil
    ) {
        let path = request.uri.path
        let query = request.uri.query ?? ""
        let duration = store.realNow() - started
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if parts.count >= 3, parts[0] == "v1", parts[1] == "bridges" {
            let bridge = String(parts[2])
            let entry = RequestLogEntry(
                method: request.method.rawValue, path: path, query: query, status: status, at: arrivedAt,
                durationMs: duration, fault: fault, seqs: seqs)
            store.withState { s in s.bridges[bridge]?.log(entry) }
        }
        if logRequests {
            var line = "\(Timestamp.rfc3339(arrivedAt)) \(request.method.rawValue) \(path)"
            if !query.isEmpty { line += "?\(query)" }
            line += " \(status == 0 ? "dropped" : String(status)) \(duration)ms"
            if let fault { line += " fault=\(fault)" }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}

/// Ties the store's shutdown to the service group's, both ways.
///
/// A signal's graceful shutdown (or cancellation) calls `store.shutDown()`, which answers the long polls at once so
/// that the server need not wait up to 60 s for them; and `store.shutDown()` called by an embedder (the tests) ends
/// this service, which then shuts the whole group down gracefully. Listed after the server, so it is told first
/// (services shut down in reverse order).
private struct ShutdownSwitch: Service {
    let store: PlatformStore

    func run() async throws {
        await withTaskCancellationOrGracefulShutdownHandler {
            await store.waitUntilShutDown()
        } onCancelOrGracefulShutdown: {
            store.shutDown()
        }
    }
}

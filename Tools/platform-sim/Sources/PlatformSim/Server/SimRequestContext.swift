import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

/// The per-request context: Hummingbird's core storage plus the peer address (the admin API is loopback only).
public struct SimRequestContext: RequestContext {
    /// Hummingbird's own per-request storage (logger, route parameters).
    public var coreContext: CoreRequestContextStorage
    /// The client's address; nil when the channel has none (already closed).
    public let remoteAddress: SocketAddress?

    /// Made by the server for each request, from its channel.
    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Bodies up to 4 MiB are read, so that an oversized events batch gets the protocol's JSON 413 rather than
    /// Hummingbird's plain one.
    public var maxUploadSize: Int { 4 * 1024 * 1024 }

    /// Whether the peer is on this machine.
    public var isLoopback: Bool { Self.isLoopback(remoteAddress) }

    /// Whether an address is loopback: 127.0.0.0/8, ::1, an IPv4-mapped 127.x, or a Unix socket.
    public static func isLoopback(_ address: SocketAddress?) -> Bool {
        guard let address else { return false }
        switch address {
        case .unixDomainSocket: return true
        case .v4, .v6:
            guard let ip = address.ipAddress else { return false }
            return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.") || ip.hasPrefix("::ffff:7f")
        }
    }
}

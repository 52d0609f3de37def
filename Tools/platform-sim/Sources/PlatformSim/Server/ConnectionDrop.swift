/// Thrown by a handler to close the connection without writing an answer (the `drop` fault).
///
/// `PlatformServer` rethrows it past Hummingbird's error-to-500 conversion; HummingbirdCore then closes the
/// channel, so the client sees the connection end with no response.
public struct ConnectionDrop: Error, Sendable {
    /// Whether the request had been handled before the drop (its effects are stored; the answer is lost).
    public let afterProcessing: Bool
}

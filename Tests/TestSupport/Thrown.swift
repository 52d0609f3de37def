import Testing

/// The error `body` throws when it is an `E`, else nil with an issue recorded, as `#expect(throws: E.self)` records it.
/// (`#expect(throws:)` and `#require(throws:)` return the error only from Swift 6.1 on; Debian 13's Swift 6.0.3 is
/// supported too: Package.swift, Tools/trixie/check.) With `#require`: `let error = try #require(thrown(E.self) { ... })`.
public func thrown<E: Error, R>(_: E.Type, sourceLocation: SourceLocation = #_sourceLocation, by body: () throws -> R) -> E? {
    do {
        _ = try body()
        Issue.record("expected an error of type \(E.self), none was thrown", sourceLocation: sourceLocation)
    } catch let error as E {
        return error
    } catch {
        Issue.record("expected an error of type \(E.self), \(type(of: error)) was thrown: \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

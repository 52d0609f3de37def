import BridgeCore
import Synchronization

/// The board's GPIO part through libgpiod: every chip the profile names, one thread per chip (`GPIOChipLink`).
///
/// `open` requests every line before it returns (outputs already at their initial levels) and reads the inputs;
/// a chip that is missing, refused or busy is reported through `events` (a failed `device` outcome) and tried
/// again, as `Board` asks. Thread-safe.
public final class GPIOBoard: Board {
    public let profile: BoardProfile
    public let events: AsyncStream<HardwareEvent>
    private let continuation: AsyncStream<HardwareEvent>.Continuation
    private let links: [GPIOChipLink]
    private let opened = Mutex(false)

    /// `devices` is where the chips' character devices are (`/dev`); `stream`, when given, is shared with the
    /// other parts of a `CompositeBoard`.
    public convenience init(profile: BoardProfile, devices: String = "/dev") {
        self.init(profile: profile, devices: devices, stream: AsyncStream.makeStream(of: HardwareEvent.self, bufferingPolicy: .unbounded))
    }

    init(profile: BoardProfile, devices: String = "/dev",
         stream: (AsyncStream<HardwareEvent>, AsyncStream<HardwareEvent>.Continuation)) {
        self.profile = profile
        (events, continuation) = stream
        links = profile.gpioChips.map { [continuation] chip in
            GPIOChipLink(spec: chip, profile: profile, devices: devices, emit: { continuation.yield($0) })
        }
    }

    public func open(initialOutputs: [String: Bool]) throws(HardwareError) -> [String: Bool?] {
        let first = opened.withLock { o in defer { o = true }; return !o }
        guard first else { throw HardwareError(.invalidState, operation: "open board", message: "already open") }
        var levels: [String: Bool?] = [:]
        for (i, link) in links.enumerated() {
            do {
                for (id, level) in try link.start(initialOutputs: initialOutputs) { levels[id] = level }
            } catch {
                for started in links.prefix(i) { started.stop() }
                throw error
            }
        }
        return levels
    }

    public func setOutput(_ id: String, active: Bool) throws(HardwareError) {
        guard let link = links.first(where: { $0.outputIDs.contains(id) }) else {
            throw HardwareError(.notFound, operation: "set output \(id)", message: "no GPIO output \"\(id)\" on board \(ConfigText.printable(profile.name))")
        }
        try link.set(id, active: active)
    }

    /// The link of chip `id` (tests pause its reading).
    func link(_ id: String) -> GPIOChipLink? { links.first { $0.spec.id == id } }

    public func close() {
        for link in links { link.stop() }
        continuation.finish()
    }

    /// Each chip's path, label, counters and last error (for `status`), by chip id.
    public func diagnostics() -> [String: JSONObject] {
        var all: [String: JSONObject] = [:]
        for link in links {
            let s = link.statistics()
            all[link.spec.id] = [
                "path": s.path.map { .string($0) } ?? .null, "label": s.label.map { .string($0) } ?? .null,
                "libgpiod": .string(GPIODLibrary.version), "edges": .int(Int64(s.edges)),
                "resyncs": .int(Int64(s.resyncs)), "reconnects": .int(Int64(s.reconnects)),
                "last_error": s.lastError.map { .string($0) } ?? .null,
            ]
        }
        return all
    }
}

import BridgeCore
import BridgeSystem
import CGPIODAdapter
import Glibc

/// An open GPIO chip character device (`/dev/gpiochipN`), through CGPIODAdapter (libgpiod 1.6 or 2.x).
///
/// Not thread-safe: its owner serialises calls (`GPIOChipLink` holds its lock around every one). Closed by `close`
/// or `deinit`; closing releases every line requested through it.
final class GPIODChip: @unchecked Sendable {
    private var handle: OpaquePointer?
    let path: String
    let name: String
    let label: String
    let lineCount: Int

    /// Opens the chip; the errno of the failure otherwise.
    init(path: String) throws(GPIOFailure) {
        guard let handle = chekt_gpio_chip_open(path) else { throw GPIOFailure.opening(path, errno: errno) }
        var name = [CChar](repeating: 0, count: 64), label = [CChar](repeating: 0, count: 64)
        var lines: UInt32 = 0
        guard chekt_gpio_chip_describe(handle, &name, name.count, &label, label.count, &lines) == 0 else {
            let e = errno
            chekt_gpio_chip_close(handle)
            throw GPIOFailure.opening(path, errno: e)
        }
        self.handle = handle
        self.path = path
        self.name = String(decoding: name.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self)
        self.label = String(decoding: label.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self)
        self.lineCount = Int(lines)
    }

    /// Requests not yet released: with libgpiod 1.6 closing the chip frees its lines, so it waits for them.
    fileprivate var liveRequests = 0
    private var closeWanted = false

    deinit {
        if let handle { chekt_gpio_chip_close(handle) }
    }

    /// Closes the chip, or, while lines requested through it are held, once the last of them is released.
    func close() {
        closeWanted = true
        guard liveRequests == 0, let handle else { return }
        chekt_gpio_chip_close(handle)
        self.handle = nil
    }

    fileprivate func requestReleased() {
        liveRequests -= 1
        if closeWanted { close() }
    }

    /// Nil while the chip is there; why not otherwise (asks the kernel: a line-info ioctl on the chip's descriptor
    /// fails with ENODEV once the chip has been unregistered, whether or not its lines are requested).
    func checkPresent() -> GPIOFailure? {
        guard let handle else { return GPIOFailure(.vanished, "\(path) is closed") }
        var info = chekt_gpio_line_info()
        guard chekt_gpio_line_describe(handle, 0, &info) == 0 else {
            let e = errno
            return GPIOFailure(GPIOFailure.kind(errno: e), "\(path) (\(shownLabel)) stopped answering: \(Posix.describe(e))", errno: e)
        }
        return nil
    }

    /// The label as a message may show it (a kernel string: control characters escaped).
    var shownLabel: String { ConfigText.printable(label) }

    struct LineInfo: Sendable, Equatable {
        var offset: Int
        var name: String
        var consumer: String
        var used: Bool
    }

    func info(offset: Int) -> LineInfo? {
        guard let handle, offset >= 0, offset < lineCount else { return nil }
        var info = chekt_gpio_line_info()
        guard chekt_gpio_line_describe(handle, UInt32(offset), &info) == 0 else { return nil }
        let name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let consumer = withUnsafeBytes(of: info.consumer) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        return LineInfo(offset: offset, name: name, consumer: consumer, used: info.used)
    }

    /// The offset of a line given by name or number, or why it is not on this chip (listing what is).
    func offset(of line: BoardProfile.LineRef) throws(GPIOFailure) -> Int {
        switch line {
        case .offset(let n):
            guard n < lineCount else {
                throw GPIOFailure(.notFound, "line \(n) is beyond \(path)'s \(lineCount) lines (\(shownLabel): offsets 0-\(lineCount - 1))")
            }
            return n
        case .name(let wanted):
            if let handle {
                let n = chekt_gpio_line_offset(handle, wanted)
                if n >= 0 { return Int(n) }
            }
            let names = (0..<lineCount).compactMap { info(offset: $0)?.name }.filter { !$0.isEmpty }.map(ConfigText.printable)
            let shown = names.count > 40 ? names.prefix(40).joined(separator: ", ") + ", … (\(names.count) named)" : names.joined(separator: ", ")
            throw GPIOFailure(.notFound, "no line named \(ConfigText.quoted(wanted)) on \(path) (\(shownLabel))",
                              fix: names.isEmpty ? "its lines have no names: give offsets 0-\(lineCount - 1) in the board profile"
                                  : "it has \(shown); correct the board profile")
        }
    }

    /// Requests lines; the first line found in use names its consumer in the failure.
    func request(consumer: String, lines: [chekt_gpio_line_config], names: [String]) throws(GPIOFailure) -> GPIODLines {
        guard let handle else { throw GPIOFailure(.vanished, "\(path) is closed") }
        for (i, line) in lines.enumerated() {
            if let info = info(offset: Int(line.offset)), info.used {
                throw GPIOFailure.busy(line: names[i], offset: Int(line.offset), path: path, consumer: info.consumer)
            }
        }
        let request = lines.withUnsafeBufferPointer { chekt_gpio_request(handle, consumer, $0.baseAddress, $0.count) }
        guard let request else {
            let e = errno
            if e == EBUSY, let i = lines.indices.first(where: { info(offset: Int(lines[$0].offset))?.used == true }) {
                throw GPIOFailure.busy(line: names[i], offset: Int(lines[i].offset), path: path,
                                       consumer: info(offset: Int(lines[i].offset))?.consumer ?? "")
            }
            throw GPIOFailure(GPIOFailure.kind(errno: e), "cannot request lines \(names.joined(separator: ", ")) of \(path): \(Posix.describe(e))", errno: e)
        }
        liveRequests += 1
        return GPIODLines(request, chip: self)
    }
}

/// Lines of one chip held by this process. Not thread-safe (see `GPIODChip`).
final class GPIODLines: @unchecked Sendable {
    private var handle: OpaquePointer?
    /// With libgpiod 1.6 the chip owns its lines' memory: it must outlive them (it is closed only after they
    /// are released, whatever order the references go in).
    private let chip: GPIODChip

    init(_ handle: OpaquePointer, chip: GPIODChip) { self.handle = handle; self.chip = chip }
    deinit { release() }

    func release() {
        guard let handle else { return }
        chekt_gpio_release(handle)
        self.handle = nil
        chip.requestReleased()
    }

    /// The descriptors that become readable when an input has an edge.
    var eventFDs: [Int32] {
        guard let handle else { return [] }
        var fds = [Int32](repeating: -1, count: 256)
        let n = chekt_gpio_event_fds(handle, &fds, fds.count)
        return Array(fds.prefix(n))
    }

    /// The edges waiting on `fd`; the errno when reading fails (ENODEV: the chip is gone).
    func readEdges(fd: Int32) -> Result<[chekt_gpio_edge], GPIOFailure> {
        guard let handle else { return .failure(GPIOFailure(.vanished, "lines released")) }
        var edges = [chekt_gpio_edge](repeating: chekt_gpio_edge(), count: 64)
        let n = chekt_gpio_read_edges(handle, fd, &edges, edges.count)
        guard n >= 0 else { let e = errno; return .failure(GPIOFailure(GPIOFailure.kind(errno: e), "reading edges: \(Posix.describe(e))", errno: e)) }
        return .success(Array(edges.prefix(Int(n))))
    }

    /// A line's logical level.
    func get(offset: Int) -> Result<Bool, GPIOFailure> {
        guard let handle else { return .failure(GPIOFailure(.vanished, "lines released")) }
        let v = chekt_gpio_get(handle, UInt32(offset))
        guard v >= 0 else { let e = errno; return .failure(GPIOFailure(GPIOFailure.kind(errno: e), "reading line \(offset): \(Posix.describe(e))", errno: e)) }
        return .success(v == 1)
    }

    func set(offset: Int, active: Bool) -> GPIOFailure? {
        guard let handle else { return GPIOFailure(.vanished, "lines released") }
        guard chekt_gpio_set(handle, UInt32(offset), active) == 0 else {
            let e = errno
            return GPIOFailure(GPIOFailure.kind(errno: e), "setting line \(offset): \(Posix.describe(e))", errno: e)
        }
        return nil
    }
}

/// Why a chip or line cannot be used, worded for the technician who has to fix it.
struct GPIOFailure: Error, Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        /// No such chip or line: the board or profile is wrong.
        case notFound
        /// The user may not open the chip.
        case permission
        /// Another process holds the line.
        case busy
        /// The chip went away under us (ENODEV, ENXIO).
        case vanished
        /// Two lines of the profile are one line of the chip.
        case conflict
        case other
    }
    var kind: Kind
    /// Short, as `device.offline` carries it: `no line named "GPIO5" on /dev/gpiochip0 (pinctrl-bcm2711)`.
    var reason: String
    /// What to do about it, for the log and `doctor`; nil when the reason says it all.
    var fix: String?
    var errno: Int32?

    init(_ kind: Kind, _ reason: String, fix: String? = nil, errno: Int32? = nil) {
        self.kind = kind; self.reason = reason; self.fix = fix; self.errno = errno
    }

    /// The reason and the fix.
    var message: String { fix.map { "\(reason): \($0)" } ?? reason }
    var description: String { message }

    static func kind(errno e: Int32) -> Kind {
        switch e {
        case EACCES, EPERM: return .permission
        case EBUSY: return .busy
        case ENODEV, ENXIO, ENOENT: return .vanished
        default: return .other
        }
    }

    static func opening(_ path: String, errno e: Int32) -> GPIOFailure {
        switch e {
        case EACCES, EPERM:
            var st = stat()
            let owner = stat(path, &st) == 0
                ? " (group \(EtcGroup.name(of: st.st_gid) ?? String(st.st_gid)), mode \(String(st.st_mode & 0o777, radix: 8)))" : ""
            return GPIOFailure(.permission, "permission denied opening \(path)\(owner)",
                               fix: "install udev/99-chekt-bridge.rules (group chekt-bridge), or add the agent's user to the chip's group "
                               + "(sudo usermod -aG gpio chekt-bridge), then restart the agent", errno: e)
        case ENOENT, ENODEV, ENXIO:
            return GPIOFailure(.vanished, "\(path) is gone (\(Posix.describe(e)))", errno: e)
        default:
            return GPIOFailure(.other, "cannot open \(path): \(Posix.describe(e))", errno: e)
        }
    }

    static func busy(line: String, offset: Int, path: String, consumer: String) -> GPIOFailure {
        let holder = consumer.isEmpty ? "another user (a kernel driver, or a process that gave no name)" : ConfigText.quoted(consumer)
        return GPIOFailure(.busy, "line \(line) (offset \(offset)) of \(path) is in use by \(holder)",
                           fix: "stop that program (a gpiomon, gpioset or a second agent?) or the overlay that claims the line, "
                           + "or wire and configure another line", errno: EBUSY)
    }
}

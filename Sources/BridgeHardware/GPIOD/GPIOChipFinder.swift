import BridgeSystem
import Glibc

/// Finds GPIO chips by label, never by number: the kernel numbers chips differently on a Pi 4 and a Pi 5
/// (and across kernel versions), while labels such as `pinctrl-bcm2711` and `pinctrl-rp1` are stable.
public enum GPIOChipFinder {
    public struct Chip: Sendable, Equatable {
        public var path: String
        public var name: String
        public var label: String
        public var lines: Int
    }

    /// Every GPIO chip character device the kernel offers (`/dev/gpiochip*`, in number order), with its label.
    /// Chips that cannot be opened are listed with the reason in `unreadable`.
    public static func all(devices: String = "/dev") -> (chips: [Chip], unreadable: [(path: String, reason: String)]) {
        var chips: [Chip] = []
        var unreadable: [(String, String)] = []
        for path in paths(devices: devices) {
            do throws(GPIOFailure) {
                let chip = try GPIODChip(path: path)
                chips.append(Chip(path: path, name: chip.name, label: chip.label, lines: chip.lineCount))
            } catch {
                unreadable.append((path, error.message))
            }
        }
        return (chips, unreadable)
    }

    /// `/dev/gpiochip*`, in number order.
    static func paths(devices: String = "/dev") -> [String] {
        guard let dir = opendir(devices) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix("gpiochip"), Int(name.dropFirst(8)) != nil { names.append(name) }
        }
        return names.sorted { $0.count == $1.count ? $0 < $1 : $0.count < $1.count }.map { devices + "/" + $0 }
    }

    /// The first chip whose label is the first of `labels` that any chip has (the profile's order is its preference).
    public static func find(labels: [String], in chips: [Chip]) -> Chip? {
        for label in labels {
            if let chip = chips.first(where: { $0.label == label }) { return chip }
        }
        return nil
    }
}

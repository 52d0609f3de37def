import BridgeCore
import BridgeSystem
import Glibc

/// Finds GPIO chips by label, never by number: the kernel numbers chips differently on a Pi 4 and a Pi 5
/// (and across kernel versions), while labels such as `pinctrl-bcm2711` and `pinctrl-rp1` are stable.
/// The agent's chip threads (`GPIOChipLink`) and `doctor` (`GPIOProbe`) look chips up here, so both say the same.
enum GPIOChipFinder {
    /// Every chip character device in `devices` (`/dev/gpiochip*`, in number order), opened; those that could not
    /// be opened, with the reason.
    static func openAll(devices: String = "/dev") -> (opened: [GPIODChip], refused: [GPIOFailure]) {
        var opened: [GPIODChip] = []
        var refused: [GPIOFailure] = []
        for path in paths(devices: devices) {
            do throws(GPIOFailure) { opened.append(try GPIODChip(path: path)) } catch { refused.append(error) }
        }
        return (opened, refused)
    }

    /// The chip with the first of `spec`'s labels that any opened chip has (the profile's order is its preference),
    /// or why there is none: a chip that could not be opened for want of permission first (it could be the one,
    /// and it is the likelier fix), else the chips there are.
    static func chip(for spec: BoardProfile.GPIOChip, in found: (opened: [GPIODChip], refused: [GPIOFailure]),
                     devices: String = "/dev") throws(GPIOFailure) -> GPIODChip {
        for label in spec.labels {
            if let chip = found.opened.first(where: { $0.label == label }) { return chip }
        }
        if let denied = found.refused.first(where: { $0.kind == .permission }) { throw denied }
        let seen = found.opened.map { "\($0.path) \(ConfigText.quoted($0.label))" }
        throw GPIOFailure(.notFound, "no GPIO chip labelled \(spec.labels.map(ConfigText.quoted).joined(separator: " or "))",
                          fix: seen.isEmpty ? "this machine has no GPIO chips (\(devices)/gpiochip*): is this the board the profile is for?"
                              : "this machine has \(seen.joined(separator: ", ")): is this the board the profile is for?")
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
}

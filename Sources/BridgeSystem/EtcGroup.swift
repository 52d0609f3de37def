import Glibc

/// Local groups, read from /etc/group (where `adduser --system` puts service groups). Not `getgrnam`/`getgrgid`:
/// NSS would load libnss_systemd and its libraries into the agent for one lookup (~0.4 MB resident).
public enum EtcGroup {
    /// The gid of the group called `name`.
    public static func id(named name: String) -> gid_t? {
        firstLine { fields in fields[0] == name ? UInt32(fields[2]) : nil }
    }

    /// The name of the group `gid`.
    public static func name(of gid: gid_t) -> String? {
        firstLine { fields in UInt32(fields[2]) == gid ? String(fields[0]) : nil }
    }

    /// The first line (split into its `name:password:gid:members` fields) for which `match` gives a value.
    private static func firstLine<T>(_ match: ([Substring]) -> T?) -> T? {
        guard let file = fopen("/etc/group", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.lazy.map(UInt8.init(bitPattern:)), as: UTF8.self)
            let fields = text.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count >= 3, let found = match(fields) { return found }
        }
        return nil
    }
}

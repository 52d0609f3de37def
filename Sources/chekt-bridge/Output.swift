import BridgeSystem
import BridgeAgent
import BridgeCore
import Glibc

/// Writing for people and for scripts: stdout and stderr unbuffered, aligned tables, colour only on a terminal.
enum Output {
    static func out(_ text: String) { Posix.writeAll(1, Array((text + "\n").utf8)) }
    static func err(_ text: String) { Posix.writeAll(2, Array((text + "\n").utf8)) }

    /// Colour only when stdout is a terminal and NO_COLOR is not set.
    static let colour: Bool = isatty(1) == 1 && getenv("NO_COLOR") == nil

    static func bold(_ s: String) -> String { colour ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    static func red(_ s: String) -> String { colour ? "\u{1B}[31m\(s)\u{1B}[0m" : s }
    static func green(_ s: String) -> String { colour ? "\u{1B}[32m\(s)\u{1B}[0m" : s }
    static func yellow(_ s: String) -> String { colour ? "\u{1B}[33m\(s)\u{1B}[0m" : s }
    static func reverse(_ s: String) -> String { colour ? "\u{1B}[7m\(s)\u{1B}[0m" : s }

    /// One JSON document, sorted keys, on its own line.
    static func json(_ value: JSONValue) { out(String(decoding: value.encoded(), as: UTF8.self)) }

    /// An aligned table; `styles` colours whole cells after alignment (so escape codes never break the columns).
    /// A column is at least as wide as `minimumWidths` says (for tables printed a row at a time, see `row`).
    static func table(_ header: [String], _ rows: [[String]], minimumWidths: [Int] = [],
                      style: (Int, Int, String) -> String = { _, _, s in s }) -> String {
        var widths = header.enumerated().map { i, h in max(h.count, i < minimumWidths.count ? minimumWidths[i] : 0) }
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        var lines = [bold(self.row(header, widths: widths))]
        for (r, cells) in rows.enumerated() {
            lines.append(self.row(cells, widths: widths) { i, cell in style(r, i, cell) })
        }
        return lines.joined(separator: "\n")
    }

    /// One line of a table whose column widths are fixed beforehand (a live table printed as rows arrive);
    /// a cell wider than its column pushes only its own line.
    static func row(_ cells: [String], widths: [Int], style: (Int, String) -> String = { _, s in s }) -> String {
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        return cells.enumerated().map { i, cell in style(i, pad(cell, i < widths.count ? widths[i] : 0)) }
            .joined(separator: "  ").trimmingTrailing()
    }
}

extension String {
    func trimmingTrailing() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

extension JSONValue {
    /// For tables: strings as they are, null as "-", lists comma-separated.
    var cell: String {
        switch self {
        case .null: return "-"
        case .string(let s): return ConfigText.printable(s)
        case .bool(let b): return b ? "yes" : "no"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .array(let a): return a.isEmpty ? "-" : a.map(\.cell).joined(separator: ",")
        case .object: return String(decoding: encoded(), as: UTF8.self)
        }
    }
}

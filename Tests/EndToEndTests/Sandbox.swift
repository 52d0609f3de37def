import Foundation

/// A fresh folder per test for its config files, state folder, control socket and logs; removed afterwards.
///
/// Paths stay short (`/tmp/chekt-e2e-XXXXXX/control.sock`) because a Unix
/// socket path must fit in 108 bytes.
final class Sandbox {
    let root: String

    init() throws {
        var template = Array("/tmp/chekt-e2e-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw E2EFailure("mkdtemp failed: \(String(cString: strerror(errno)))") }
        root = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    var socket: String { root + "/control.sock" }
    var stateDir: String { root + "/state" }
    var journalDir: String { stateDir + "/journal" }

    /// Writes `text` to `name` inside the sandbox and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = root + "/" + name
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw E2EFailure("cannot write \(path): \(error)")
        }
        return path
    }

    /// Writes a JSON object (built from dictionaries and arrays) as a file and returns its path.
    @discardableResult
    func writeJSON(_ name: String, _ object: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return try write(name, String(decoding: data, as: UTF8.self))
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}

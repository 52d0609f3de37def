import Foundation

/// The repository this test file belongs to, and the shipped files the tests use.
enum Repo {
    static let root: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Absolute path of the shipped 3-relay board profile (inputs in1..in4, outputs out1..out3).
    static func board() throws -> String {
        let path = root + "/boards/rpi-relay-3ch.json"
        guard FileManager.default.fileExists(atPath: path) else { throw E2EFailure("the shipped board profile \(path) is missing") }
        return path
    }

    /// Every `*.json` under `folder` (relative to the repository), skipping state folders a demo run leaves behind.
    static func jsonFiles(under folder: String) -> [String] {
        let base = root + "/" + folder
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            if relative.split(separator: "/").contains("state") { continue }
            if relative.hasSuffix(".json") { files.append(base + "/" + relative) }
        }
        return files.sorted()
    }
}

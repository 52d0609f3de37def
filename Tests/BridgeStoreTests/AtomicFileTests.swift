@testable import BridgeStore
import Foundation
import Glibc
import Synchronization
import Testing
import TestSupport

@Suite struct AtomicFileTests {
    @Test func writesReadsAndReplacesLeavingNoTemporaryFile() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state.json")
        #expect(try AtomicFile.read(path, limit: 1 << 20) == nil)
        try AtomicFile.write(Array("first".utf8), to: path)
        #expect(try AtomicFile.read(path, limit: 1 << 20) == Array("first".utf8))
        try AtomicFile.write(Array("second, longer".utf8), to: path)
        #expect(try AtomicFile.read(path, limit: 1 << 20) == Array("second, longer".utf8))
        try AtomicFile.write([], to: path)
        #expect(try AtomicFile.read(path, limit: 1 << 20) == [])
        #expect(try folder.names() == ["state.json"])
        var st = stat()
        #expect(stat(path, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o640)
        try AtomicFile.write([1], to: path, mode: 0o600)
        #expect(stat(path, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
    }

    @Test func readsLargeFilesWhole() throws {
        let folder = try TemporaryFolder()
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try AtomicFile.write(bytes, to: folder.file("big"))
        #expect(try AtomicFile.read(folder.file("big"), limit: 1 << 20) == bytes)
    }

    @Test func aFailedReplaceLeavesTheOldFileWholeAndNoTemporaryFile() throws {
        let folder = try TemporaryFolder()
        // The target is a non-empty folder: the final rename fails (EISDIR/ENOTEMPTY).
        try FileManager.default.createDirectory(atPath: folder.file("target/inside"), withIntermediateDirectories: true)
        let error = thrown(StoreError.self) { try AtomicFile.write(Array("new".utf8), to: folder.file("target")) }
        #expect(error?.operation.hasPrefix("rename") == true)
        #expect(error?.errno != nil)
        #expect(try folder.names() == ["target"])
        #expect(try folder.names("target") == ["inside"])

        // And a write into a missing folder names it and creates nothing.
        let missing = thrown(StoreError.self) { try AtomicFile.write([1], to: folder.file("nope/file")) }
        #expect(missing?.code == .notFound)
        #expect(missing?.path.hasPrefix(folder.file("nope/file.tmp-")) == true)
    }

    @Test func aReaderDuringReplacementsSeesTheOldFileOrTheNewNeverAMix() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        let a = [UInt8](repeating: 0x61, count: 1 << 20)
        let b = [UInt8](repeating: 0x62, count: 1 << 19)
        try AtomicFile.write(a, to: path)
        let problems = Mutex<[String]>([])
        let writing = Atomic<Bool>(true)
        onThreads(2) { t in
            if t == 0 {
                for i in 0..<20 { try? AtomicFile.write(i % 2 == 0 ? b : a, to: path) }
                writing.store(false, ordering: .sequentiallyConsistent)
            } else {
                var reads = 0
                while writing.load(ordering: .sequentiallyConsistent) || reads < 10 {
                    reads += 1
                    guard let bytes = try? AtomicFile.read(path, limit: 1 << 20) else {
                        problems.withLock { $0.append("the file was missing during a replacement") }
                        continue
                    }
                    if bytes != a && bytes != b {
                        problems.withLock { $0.append("read \(bytes.count) bytes that are neither version") }
                    }
                }
            }
        }
        #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0.prefix(3) })")
        #expect(try folder.names() == ["state"])
    }

    @Test func staleTemporariesOfOneFileAreRemovedOthersKept() throws {
        let folder = try TemporaryFolder()
        try writeBytes([1], to: folder.file("a.tmp-0123456789abcdef"))
        try writeBytes([1], to: folder.file("b.tmp-0123456789abcdef"))
        try writeBytes([1], to: folder.file("a"))
        try AtomicFile.removeStaleTemporaries(for: folder.file("a"))
        #expect(try folder.names() == ["a", "b.tmp-0123456789abcdef"])
    }
}

@Suite struct SnapshotFileTests {
    @Test func savesAndLoadsThePayloadUnchanged() throws {
        let folder = try TemporaryFolder()
        let snapshot = SnapshotFile(path: folder.file("state.snapshot"))
        #expect(try snapshot.load() == nil)
        let payload = Array(#"{"version":1,"partitions":{"main":"armed_away"}}"#.utf8)
        try snapshot.save(payload)
        #expect(try snapshot.load() == payload)
        try snapshot.save([])
        #expect(try snapshot.load() == [])
        #expect(try folder.names() == ["state.snapshot"])
    }

    /// A step's snapshot written ahead of its events is the snapshot once they are recorded, and is dropped when
    /// they are not, whether the run renamed it (`commitAhead`) or stopped before (`settleAhead` at the next start).
    @Test func aSnapshotWrittenAheadOfItsEventsCountsOnlyWhenTheyAreRecorded() throws {
        let folder = try TemporaryFolder()
        let snapshot = SnapshotFile(path: folder.file("state.snapshot"))
        try snapshot.save([1])
        #expect(try snapshot.settleAhead { _ in true } == nil, "no .next: nothing to do")

        // Stopped after saving ahead, before the append: the step's events (through seq 7) are not in the journal.
        try snapshot.saveAhead([2], throughSeq: 7)
        var asked: [Int64] = []
        let dropped = try snapshot.settleAhead { asked.append($0); return false }
        #expect(asked == [7])
        #expect(dropped?.contains("were not recorded; removed") == true, "\(dropped ?? "nil")")
        #expect(try snapshot.load() == [1])
        #expect(try folder.names() == ["state.snapshot"])

        // Stopped after the append, before the rename: the events are there, so is the state.
        try snapshot.saveAhead([3], throughSeq: 8)
        let promoted = try snapshot.settleAhead { $0 == 8 }
        #expect(promoted?.contains("are recorded; it is the snapshot now") == true, "\(promoted ?? "nil")")
        #expect(try snapshot.load() == [3])
        #expect(try folder.names() == ["state.snapshot"])

        // The run's own commit.
        try snapshot.saveAhead([4], throughSeq: 9)
        try snapshot.commitAhead()
        #expect(try snapshot.load() == [4])

        // A .next cut short was being written when the agent stopped: before any append, so it is dropped.
        try snapshot.saveAhead([5, 5, 5, 5], throughSeq: 10)
        var bytes = try readBytes(snapshot.aheadPath)
        bytes.removeLast(2)
        try writeBytes(bytes, to: snapshot.aheadPath)
        let cut = try snapshot.settleAhead { _ in true }
        #expect(cut?.contains("was cut short") == true, "\(cut ?? "nil")")
        #expect(try snapshot.load() == [4])
        #expect(try folder.names() == ["state.snapshot"])
    }

    @Test(arguments: ["flip", "truncate", "plain"])
    func corruptSnapshotThrowsAndIsKeptAside(damage: String) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state.snapshot")
        let snapshot = SnapshotFile(path: path)
        try snapshot.save(Array(#"{"version":1}"#.utf8))
        var bytes = try readBytes(path)
        switch damage {
        case "flip": bytes[bytes.count - 3] ^= 0x08
        case "truncate": bytes.removeLast(4)
        default: bytes = Array(#"{"version":1}"#.utf8)   // e.g. written by hand, no checksum
        }
        try writeBytes(bytes, to: path)

        let error = thrown(StoreError.self) { try snapshot.load() }
        #expect(error?.code == .corrupt)
        #expect(error?.path == path)
        let aside = try folder.names().filter { $0.hasPrefix("state.snapshot.corrupt-") }
        #expect(aside.count == 1)
        #expect(error?.message.contains(aside.first ?? "?") == true, "the error names where the file went")
        #expect(try readBytes(folder.file(aside[0])) == bytes, "kept unchanged")
        #expect(try snapshot.load() == nil, "the agent starts from no snapshot")
        try snapshot.save([7])
        #expect(try snapshot.load() == [7])
        #expect(try folder.names().count == 2)
    }

    @Test func twoCorruptionsInOneMillisecondDoNotOverwriteEachOther() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("s")
        for _ in 0..<3 {
            try writeBytes([1, 2, 3], to: path)
            #expect(throws: StoreError.self) { try SnapshotFile(path: path).load() }
        }
        #expect(try folder.names().filter { $0.hasPrefix("s.corrupt-") }.count == 3)
    }
}

@Suite struct StoreErrorTests {
    @Test func aStateDirUnderARegularFileIsAClearError() throws {
        let folder = try TemporaryFolder()
        try writeBytes([1], to: folder.file("afile"))
        let error = try #require(thrown(StoreError.self) {
            try Journal(directory: folder.file("afile/sub"), maxBytes: 1 << 20)
        })
        #expect(error.code == .notADirectory)
        #expect(error.errno == ENOTDIR)
        #expect(error.path == folder.file("afile/sub") || error.path == folder.file("afile"))
        #expect(error.message.contains("Not a directory"))
        #expect(error.description.contains(error.path))
        #expect(error.description.contains("errno \(ENOTDIR)"))

        let file = thrown(StoreError.self) { try AtomicFile.write([1], to: folder.file("afile/x")) }
        #expect(file?.code == .notADirectory)
        #expect(file?.message.contains("Not a directory") == true)
    }

    @Test func theStateDirItselfBeingAFileIsRefused() throws {
        let folder = try TemporaryFolder()
        try writeBytes([1], to: folder.file("state"))
        let error = thrown(StoreError.self) { try Journal(directory: folder.file("state"), maxBytes: 1 << 20) }
        #expect(error?.code == .notADirectory)
        #expect(error?.path == folder.file("state"))
    }

    @Test func errnoMapsToCodesAndAdvice() {
        let full = Errno(ENOSPC).error("write", "/var/lib/chekt-bridge/journal/outbox.journal")
        #expect(full.code == .noSpace)
        #expect(full.message.hasPrefix("write failed: No space left on device"))
        #expect(full.message.contains("outbox.max_mb"))
        #expect(Errno(EACCES).error("open", "/x").code == .permissionDenied)
        #expect(Errno(EROFS).error("open", "/x").code == .readOnly)
        #expect(Errno(EIO).error("read", "/x").code == .io)
        #expect(StoreError(path: "/x", operation: "op", message: "m").code == .io)
    }
}

import BridgeCore
@testable import BridgeStore
import Foundation
import Glibc
import Synchronization
import Testing

/// Figures for docs/storage.md, not assertions on time: run with
/// `CHEKT_STORE_BENCH=1 swift test --filter JournalBenchmark`. It checks what it measured is
/// correct (every event there, in order), so it can fail; it never fails for being slow.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["CHEKT_STORE_BENCH"] == "1"), .serialized)
struct JournalBenchmark {
    func report(_ line: String) {
        FileHandle.standardError.write(Data(("bench: " + line + "\n").utf8))
    }

    /// The test process's resident memory now (the test harness alone is about 34 MB).
    func maxRSS() -> String {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "0 0"
        let pages = Int(statm.split(separator: " ")[1]) ?? 0
        return "RSS \(pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576) MB"
    }

    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    @Test func singleAppendsInALoop() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 26)
        defer { journal.close() }
        let n = 2000
        let s = try seconds { for i in 0..<n { _ = try journal.append([relayDraft(i, at: t0)]) } }
        report("1 thread, 1 event per append (one fdatasync each): \(Int(Double(n) / s)) events/s, \(journal.stats.commits) commits")
        #expect(journal.lastSeq == Int64(n))
    }

    @Test(arguments: [4, 16, 64])
    func concurrentAppendsWithGroupCommit(threads: Int) throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 26)
        defer { journal.close() }
        let perThread = 8000 / threads
        let errors = Atomic<Int>(0)
        let s = seconds {
            onThreads(threads) { t in
                for i in 0..<perThread {
                    if (try? journal.append([relayDraft(t * 10_000 + i, at: t0)])) == nil {
                        errors.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        let total = threads * perThread
        let commits = journal.stats.commits
        report("\(threads) threads, 1 event per append: \(Int(Double(total) / s)) events/s, \(commits) commits (\(String(format: "%.1f", Double(total) / Double(commits))) events per fdatasync)")
        #expect(errors.load(ordering: .relaxed) == 0)
        #expect(try allEvents(journal).map(\.seq) == Array(1...Int64(total)))
    }

    @Test func fullSixtyFourMegabyteJournal() throws {
        let folder = try TemporaryFolder()
        let bound = 64 * 1_048_576
        var journal = try Journal(directory: folder.path, maxBytes: bound, compaction: .manual)
        var count = 0
        let fill = try seconds {
            while journal.stats.bytesOnDisk <= bound {
                _ = try journal.append((0..<1000).map { i in
                    i % 50 == 0 ? alarmDraft(count + i, at: t0) : zoneDraft("z\(i / 2 % 8)", faulted: i % 2 == 1, at: t0)
                })
                count += 1000
            }
        }
        report("filled \(journal.stats.bytesOnDisk / 1_048_576) MB (\(count) events, 1000 per append) in \(String(format: "%.1f", fill)) s; \(maxRSS())")
        journal.close()

        var records = 0
        let open = try seconds {
            journal = try Journal(directory: folder.path, maxBytes: bound, compaction: .manual)
            records = journal.recovery.records
        }
        report("open + recovery scan of the full journal: \(String(format: "%.2f", open)) s; \(maxRSS())")
        #expect(records == count)

        var read = 0
        let readTime = try seconds {
            var after: Int64 = 0
            while true {
                let page = try journal.events(after: after, limit: 100)
                guard let last = page.last else { break }
                read += page.count
                after = last.seq
            }
        }
        report("read all in pages of 100: \(Int(Double(read) / readTime)) events/s; \(maxRSS())")
        #expect(read == count)

        var summary: CompactionSummary?
        let compaction = try seconds { summary = try journal.compact() }
        let result = try #require(summary)
        report("compaction \(result.bytesBefore / 1024) KiB → \(result.bytesAfter / 1024) KiB, \(result.zonePairs) zone pairs dropped: \(String(format: "%.2f", compaction)) s")
        report(maxRSS())
        #expect(result.bytesAfter <= bound / 4 * 3)
        #expect(result.zonePairs > 0)
        #expect(try allEvents(journal).filter { $0.eventType == .alarmCreated }.count == count / 50)
        journal.close()
    }
}

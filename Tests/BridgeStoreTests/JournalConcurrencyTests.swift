import BridgeCore
@testable import BridgeStore
import Foundation
import Glibc
import Synchronization
import Testing

@Suite struct JournalConcurrencyTests {
    @Test func manyThreadsAppendingGetConsecutiveUniqueSeqsAndAllAreDurable() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 24)
        let threads = 16, perThread = 60
        let results = Mutex<[Event]>([])
        let failures = Mutex<[String]>([])
        onThreads(threads) { t in
            for i in 0..<perThread {
                do {
                    // Some calls carry two events: a call's events stay together and in order.
                    let drafts = i % 5 == 0 ? [relayDraft(t, at: t0 + Millis(i)), alarmDraft(t, at: t0 + Millis(i))]
                                            : [relayDraft(t, at: t0 + Millis(i))]
                    let events = try journal.append(drafts)
                    if events.count == 2, events[1].seq != events[0].seq + 1 {
                        failures.withLock { $0.append("one call's seqs not consecutive: \(events.map(\.seq))") }
                    }
                    results.withLock { $0 += events }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let appended = results.withLock { $0 }.sorted { $0.seq < $1.seq }
        let total = threads * perThread + threads * (perThread / 5)
        #expect(appended.map(\.seq) == Array(1...Int64(total)), "no gap, no duplicate")
        #expect(Set(appended.map(\.id)).count == total)
        #expect(journal.stats.commits <= threads * perThread)
        journal.close()

        let reopened = try Journal(directory: folder.path, maxBytes: 1 << 24)
        defer { reopened.close() }
        #expect(reopened.recovery.isClean)
        #expect(try allEvents(reopened, page: 97) == appended)
    }

    @Test func oneWriteAndSyncCoversEveryAppendThatQueuedBehindTheLeader() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 24)
        defer { journal.close() }
        let followers = 15
        let leaderWriting = Atomic<Bool>(false)
        // The first leader holds its write until every follower has queued behind it.
        journal.setBeforeCommit {
            journal.setBeforeCommit(nil)
            leaderWriting.store(true, ordering: .sequentiallyConsistent)
            while journal.queuedAppends < followers { sched_yield() }
            return nil
        }
        onThreads(followers + 1) { t in
            if t > 0 {
                while !leaderWriting.load(ordering: .sequentiallyConsistent) { sched_yield() }
            }
            _ = try? journal.append([relayDraft(t, at: t0)])
        }
        #expect(journal.lastSeq == Int64(followers + 1))
        #expect(journal.stats.commits == 2, "the leader's own write, then one for all 15 followers")
        #expect(try journal.events(after: 0, limit: 100).map(\.seq) == Array(1...Int64(followers + 1)))
    }

    @Test func readersAndTheDeliveryMarkRunAlongsideWriters() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 24)
        defer { journal.close() }
        let writers = 4, perWriter = 100
        let problems = Mutex<[String]>([])
        onThreads(writers + 1) { t in
            if t < writers {
                for i in 0..<perWriter { _ = try? journal.append([relayDraft(i, at: t0)]) }
                return
            }
            // An uplink: reads what is durable, in order, and marks it delivered.
            var delivered: Int64 = 0
            while delivered < Int64(writers * perWriter) {
                do {
                    let batch = try journal.events(after: delivered, limit: 25)
                    for (k, e) in batch.enumerated() where e.seq != delivered + Int64(k) + 1 {
                        problems.withLock { $0.append("gap: \(e.seq) after \(delivered + Int64(k))") }
                    }
                    if let last = batch.last {
                        try journal.markDelivered(through: last.seq)
                        delivered = last.seq
                    } else {
                        sched_yield()
                    }
                } catch {
                    problems.withLock { $0.append("\(error)") }
                    return
                }
            }
        }
        #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0 })")
        #expect(journal.deliveredThrough == Int64(writers * perWriter))
        #expect(journal.stats.pending == 0)
    }
}

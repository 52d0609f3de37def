import Glibc
import Synchronization
import Testing
@testable import BridgeSystem

@Suite struct SystemTests {
    @Test func writeAllWritesEveryByteThroughAPipe() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let bytes = (0..<10_000).map { UInt8($0 % 251) }
        #expect(Posix.writeAll(fds[1], bytes))
        close(fds[1])
        var got: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true { let n = read(fds[0], &chunk, chunk.count); if n <= 0 { break }; got += chunk[0..<n] }
        close(fds[0])
        #expect(got == bytes)
    }

    @Test func writeAllReportsAClosedReader() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        signal(SIGPIPE, SIG_IGN)
        close(fds[0])
        #expect(!Posix.writeAll(fds[1], [1, 2, 3]))
        #expect(errno == EPIPE)
        close(fds[1])
    }

    @Test func errnoWordsComeFromStrerror() {
        #expect(Posix.describe(ENOENT) == "No such file or directory")
    }

    @Test func aThreadExecutorRunsTasksOnItsOwnThread() async {
        let executor = ThreadExecutor(name: "test")
        let caller = pthread_self()
        let ran = await Task(executorPreference: executor) { pthread_equal(pthread_self(), caller) == 0 }.value
        #expect(ran)
    }

    @Test func aConditionWakesAWaiterOnSignal() {
        let condition = Condition()
        let flag = Mutex(false)
        Posix.spawnThread(name: "signaller") {
            condition.lock()
            flag.withLock { $0 = true }
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        for _ in 0..<100 where !flag.withLock({ $0 }) { condition.wait(timeoutMs: 50) }
        condition.unlock()
        #expect(flag.withLock { $0 })
    }
}

/// journald's priority prefixes, and when they apply.
@Suite struct LogTests {
    @Test func linesCarryTheirSyslogPriorityOnlyForTheJournal() {
        #expect(Log.formatted(.error, "error: boom", prefixed: true) == "<3>error: boom\n")
        #expect(Log.formatted(.warning, "warning: w", prefixed: true) == "<4>warning: w\n")
        #expect(Log.formatted(.info, "two\nlines", prefixed: true) == "<6>two\n<6>lines\n", "each line of an entry keeps its priority")
        #expect(Log.formatted(.debug, "d", prefixed: true) == "<7>d\n")
        #expect(Log.formatted(.error, "error: boom", prefixed: false) == "error: boom\n")
    }

    @Test func theJournalIsStderrOnlyWhenJournalStreamNamesStderrsDeviceAndInode() {
        var st = stat()
        #expect(fstat(2, &st) == 0)
        #expect(Log.stderrIsJournal("\(st.st_dev):\(st.st_ino)"))
        #expect(!Log.stderrIsJournal("\(st.st_dev):\(st.st_ino &+ 1)"), "another stream: a child whose stderr was redirected")
        #expect(!Log.stderrIsJournal(nil))
        #expect(!Log.stderrIsJournal(""))
        #expect(!Log.stderrIsJournal("8:junk"))
        #expect(!Log.stderrIsJournal("\(st.st_dev):\(st.st_ino):1"))
    }

    @Test func levelsByName() {
        #expect(Log.Level.allCases.map(\.name) == ["error", "warning", "info", "debug"])
        #expect(Log.Level(name: "warning") == .warning && Log.Level(name: "WARN") == nil)
        #expect(Log.Level.error < .warning && Log.Level.info < .debug)
    }
}

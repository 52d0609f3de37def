import Glibc

/// A task executor that runs its jobs on one dedicated POSIX thread.
///
/// The agent's runtime loop runs here (`Task(executorPreference:)`), so the
/// blocking `fdatasync` of the journal never holds a thread of the Swift
/// concurrency pool.
public final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = Condition()
    private var jobs: [UnownedJob] = []

    public init(name: String) {
        Posix.spawnThread(name: name) { [self] in run() }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}

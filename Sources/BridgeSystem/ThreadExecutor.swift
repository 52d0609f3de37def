import Glibc

/// A task executor that runs its jobs on one dedicated POSIX thread, with one optional timer of its own.
///
/// The agent's runtime loop runs here (`Task(executorPreference:)`), so the blocking `fdatasync` of the journal
/// never holds a thread of the Swift concurrency pool. The timer fires on this same thread from a timed
/// condition wait (`CLOCK_MONOTONIC`): a debounce or pulse deadline costs no hop through another thread, which is
/// what keeps input → event latency within a couple of milliseconds of the debounce on a loaded 2-core board.
public final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = Condition()
    private var jobs: [UnownedJob] = []
    private var timer: (deadlineNs: UInt64, action: @Sendable () -> Void)?

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

    /// Runs `action` on this executor's thread `delayNs` from now (monotonic), replacing any timer set before;
    /// nil cancels it.
    public func setTimer(delayNs: UInt64?, _ action: @escaping @Sendable () -> Void) {
        condition.lock()
        timer = delayNs.map { (Posix.monotonicNanos().addingReportingOverflow($0).overflow ? .max : Posix.monotonicNanos() + $0, action) }
        condition.signal()
        condition.unlock()
    }


    private func run() {
        while true {
            condition.lock()
            var due: (@Sendable () -> Void)?
            while jobs.isEmpty && due == nil {
                if let t = timer {
                    let now = Posix.monotonicNanos()
                    if now >= t.deadlineNs {
                        due = t.action
                        timer = nil
                    } else {
                        condition.wait(timeoutNs: t.deadlineNs - now)
                    }
                } else {
                    condition.wait()
                }
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            due?()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}

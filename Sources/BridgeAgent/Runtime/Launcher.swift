import BridgeSystem
import BridgeCore
import BridgeHardware
import BridgeStore
import BridgeUplink
import FoundationEssentials
import Glibc

/// `chekt-bridge run`: loads and validates everything, then runs the agent until SIGTERM/SIGINT.
///
/// Nothing touches an output before the configuration is fully validated and
/// the saved state is read (behaviour.md, Start-up).
public enum Launcher {
    public struct Arguments: Sendable {
        public var configPath: String
        public var simulate: Bool
        public var stateDir: String?
        public var socketPath: String
        public init(configPath: String, simulate: Bool, stateDir: String?, socketPath: String) {
            self.configPath = configPath; self.simulate = simulate; self.stateDir = stateDir; self.socketPath = socketPath
        }
    }

    /// Runs the agent; returns the exit code (0 after a clean stop, 1 on a failure at run time, 2 on configuration errors).
    public static func run(_ args: Arguments) async -> Int32 {
        // Handlers first: from here on a SIGTERM is queued for the loop, never the default action. The watcher starts
        // at once: until the runtime exists (config, state folder, uplink being read) nothing has touched an output,
        // so SIGTERM/SIGINT then just end the process, however long a read takes.
        let signalPipe = Signals.install()
        let signalTarget = SignalTarget()
        Signals.startWatcher(readEnd: signalPipe) { signal in
            if let deliver = signalTarget.deliver { return deliver(signal) }
            guard signal != SIGHUP else { return }
            Log.info("signal \(signal) while starting: nothing was started; stopping")
            _exit(0)
        }

        let site: Site
        do { site = try ConfigLoader.loadSite(path: args.configPath) } catch {
            Log.error("the configuration has \(error.issues.count) problem(s); nothing was started:\n\(error)")
            return 2
        }
        let stateDir = args.stateDir ?? site.config.bridge.stateDir
        // The platform link's settings are checked before anything is created in the state folder.
        var link: (config: Uplink.Configuration, credentials: Credentials)?
        if let upstream = site.config.upstream {
            let url: String
            switch UpstreamURL.validate(upstream.url) {
            case .success(let u): url = u
            case .failure(let e):
                Log.error("\(args.configPath): \(e)")
                return 2
            }
            var environment: [String: String] = [:]
            if let dir = getenv("CREDENTIALS_DIRECTORY") { environment["CREDENTIALS_DIRECTORY"] = String(cString: dir) }
            do {
                let (credentials, _) = try Credentials.load(path: upstream.credentials, environment: environment)
                link = (.init(bridgeID: site.config.bridge.id, baseURL: url, credentialsPath: upstream.credentials,
                              heartbeatS: upstream.heartbeatS, caFile: upstream.caFile, stateDir: stateDir, environment: environment),
                        credentials)
            } catch {
                Log.error("cannot start the platform link: credentials: \(error)")
                return 2
            }
            // HTTPS set up once here, so that a ca_file that cannot be used is a configuration error now, not a
            // platform link that never connects.
            do {
                _ = try HTTPClient(options: .init(userAgent: "chekt-bridge/\(AgentVersion.string)", connectTimeoutMs: 10_000,
                                                  timeoutMs: 10_000, caFile: upstream.caFile))
            } catch {
                Log.error("cannot start the platform link: \(error)")
                return 2
            }
        }

        let journal: Journal
        do {
            journal = try Journal(directory: stateDir + "/journal", maxBytes: site.config.outbox.maxMB * 1_048_576)
        } catch {
            let fixable: Set<StoreError.Code> = [.permissionDenied, .notFound, .notADirectory]
            Log.error("cannot open the state folder \(stateDir): \(error)" + (!fixable.contains(error.code) ? "" :
                "\nfix: create it writable by the agent's user (install -d -o chekt-bridge -m 0750 \(stateDir)) or pass --state-dir DIR"))
            return 2
        }
        for problem in journal.recovery.problems { Log.warning("journal: \(problem)") }

        var uplink: Uplink?
        if let link {
            AgentIdentity.version = AgentVersion.string
            do {
                uplink = try Uplink(config: link.config, credentials: link.credentials, journal: journal)
            } catch {
                Log.error("cannot start the platform link: \(error)")
                journal.close()
                return 2
            }
        }

        let snapshot = SnapshotFile(path: stateDir + "/state.snapshot")
        var restored: PersistedState?
        do {
            // A step's snapshot written ahead of its events by a run that stopped before renaming it (SnapshotFile).
            if let settled = try snapshot.settleAhead(committed: { (try? journal.recorded(seq: $0)) ?? false }) {
                Log.info("state snapshot: \(settled)")
            }
            if let bytes = try snapshot.load() {
                do { restored = try SnapshotDocument.decode(bytes) } catch {
                    // Kept, not overwritten by the next save: a newer agent's snapshot survives a downgrade.
                    let aside = try snapshot.setAside()
                    throw StoreError(code: .corrupt, path: snapshot.path, operation: "load snapshot",
                                     message: "\(error); it was moved to \(aside) and is not used")
                }
            }
        } catch {
            Log.error("state snapshot unusable, starting as on a first start (partitions disarmed, no bypasses, relays at their power_on level): \(error)")
        }

        let clock = ContinuousClock()
        let board: any Board
        let simulation: (any SimulationControl)?
        if args.simulate {
            let simulated = SimulatedBoard(profile: site.board, clock: clock)
            (board, simulation) = (simulated, simulated)
        } else {
            (board, simulation) = (RealBoard.make(profile: site.board), nil)
        }
        let runtime = Runtime(site: site, board: board, simulation: simulation, journal: journal, snapshot: snapshot,
                              restored: restored, clock: clock,
                              options: .init(simulated: args.simulate, configPath: args.configPath, stateDir: stateDir))
        let server: ControlServer
        do { server = try ControlServer(path: args.socketPath, target: runtime) } catch {
            Log.error(error.description)
            journal.close()
            return 1
        }
        runtime.uplink = uplink
        signalTarget.deliver = { [uplink] signal in
            if signal == SIGHUP {
                Log.info("SIGHUP: " + (uplink?.reloadCredentials() ?? "nothing to re-read in local mode"))
            } else {
                SystemdNotify.send("STOPPING=1")
                runtime.post(.signal(signal))
            }
        }
        if let intervalMs = SystemdNotify.watchdogIntervalMs() {
            runtime.watchdog = (intervalMs, { SystemdNotify.send("WATCHDOG=1") })
            Log.info("systemd watchdog: pinging every \(intervalMs) ms from the runtime loop")
        }
        server.start()
        Log.info("chekt-bridge \(AgentVersion.string): bridge \(site.config.bridge.id), board \(ConfigText.printable(site.board.name)) (\(args.simulate ? "simulated" : "real hardware")), state \(stateDir), socket \(args.socketPath), " + (site.config.upstream.map { "upstream \($0.url)" } ?? "local mode"))

        let code = await runtime.run(onReady: { [uplink] in
            uplink?.start(host: runtime)
            SystemdNotify.send("READY=1")
        })
        uplink?.stop()
        uplink?.close()
        server.remove()
        journal.close()
        Log.info("stopped")
        return code
    }
}

/// Where the signal watcher hands signals: nobody while the agent starts, the runtime once it exists.
private final class SignalTarget: @unchecked Sendable {
    private let lock = Condition()
    private var handler: (@Sendable (Int32) -> Void)?
    var deliver: (@Sendable (Int32) -> Void)? {
        get { lock.lock(); defer { lock.unlock() }; return handler }
        set { lock.lock(); handler = newValue; lock.unlock() }
    }
}

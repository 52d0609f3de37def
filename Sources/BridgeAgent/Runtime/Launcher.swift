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
        // Handlers first: from here on a SIGTERM is queued for the loop, never the default action.
        let signalPipe = Signals.install()

        let site: Site
        do { site = try ConfigLoader.loadSite(path: args.configPath) } catch {
            Log.error("the configuration has \(error.issues.count) problem(s); nothing was started:\n\(error)")
            return 2
        }
        guard args.simulate else {
            Log.error("this build drives the simulated board only: add --simulate (the libgpiod and libmodbus backends come with the real-hardware release)")
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
                Log.error("\(args.configPath): upstream.url: \(e)")
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
        }

        let journal: Journal
        do {
            journal = try Journal(directory: stateDir + "/journal", maxBytes: site.config.outbox.maxMB * 1_048_576)
        } catch {
            var message = "cannot open the state folder \(stateDir): \(error)"
            if [.permissionDenied, .notFound, .notADirectory].contains(error.code) {
                message += "\nfix: create it writable by the agent's user (install -d -o chekt-bridge -m 0750 \(stateDir)) or pass --state-dir DIR"
            }
            Log.error(message)
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
            if let bytes = try snapshot.load() { restored = try SnapshotDocument.decode(bytes) }
        } catch {
            Log.error("state snapshot unusable, starting without it (relays off, partitions disarmed): \(error)")
        }

        let clock = ContinuousClock()
        let board = SimulatedBoard(profile: site.board, clock: clock)
        let runtime = Runtime(site: site, board: board, simulation: board, journal: journal, snapshot: snapshot,
                              restored: restored, clock: clock,
                              options: .init(simulated: true, configPath: args.configPath, stateDir: stateDir))
        let server: ControlServer
        do { server = try ControlServer(path: args.socketPath, target: runtime) } catch {
            Log.error(error.description)
            journal.close()
            return 1
        }
        runtime.uplink = uplink
        Signals.startWatcher(readEnd: signalPipe) { [uplink] signal in
            if signal == SIGHUP {
                Log.info("SIGHUP: " + (uplink?.reloadCredentials() ?? "nothing to re-read in local mode"))
            } else {
                runtime.post(.signal(signal))
            }
        }
        server.start()
        Log.info("chekt-bridge \(AgentVersion.string): bridge \(site.config.bridge.id), board \(site.board.name) (simulated), state \(stateDir), socket \(args.socketPath), " + (site.config.upstream.map { "upstream \($0.url)" } ?? "local mode"))

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

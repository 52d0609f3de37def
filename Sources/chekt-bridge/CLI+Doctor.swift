import BridgeSystem
import BridgeAgent
import BridgeCore
import BridgeHardware
import BridgeUplink
import Glibc

/// `doctor`: checks what a bridge needs, each line OK / WARN / FAIL with what to do about it.
extension CLI {
    static func doctor(_ words: [String], socket: String) throws -> Int32 {
        let args = try Arguments(words, flags: [], options: ["--config"])
        _ = try args.expect([])
        let configPath = args.values["--config"] ?? "/etc/chekt-bridge/config.json"
        var failures = 0
        func report(_ level: String, _ what: String, _ detail: String) {
            if level == "FAIL" { failures += 1 }
            let tag = level == "OK" ? Output.green(level) : level == "WARN" ? Output.yellow(level) : Output.red(level)
            Output.out("\(tag)\(String(repeating: " ", count: 5 - level.count)) \(what): \(detail)")
        }

        // Configuration
        let site: Site?
        do {
            site = try ConfigLoader.loadSite(path: configPath)
            report("OK", "config", "\(configPath) with board \(site!.board.name) (\(site!.boardPath))")
        } catch {
            site = nil
            report("FAIL", "config", configProblems(error.issues, path: configPath))
        }

        // State folder
        if let site {
            let dir = site.config.bridge.stateDir
            var st = stat()
            if stat(dir, &st) != 0 {
                report("FAIL", "state folder", "\(dir): \(Posix.describe(errno)); create it: install -d -o chekt-bridge -m 0750 \(dir)")
            } else if let problem = stateFolderProblem(dir, st) {
                report("FAIL", "state folder", problem)
            } else {
                var fs = statvfs()
                statvfs(dir, &fs)
                let freeMB = Int(fs.f_bavail) * Int(fs.f_frsize) / 1_048_576
                let needMB = site.config.outbox.maxMB
                report(freeMB >= needMB ? "OK" : "WARN", "state folder", "\(dir), \(freeMB) MB free (outbox bound \(needMB) MB)")
            }
        }

        // The running agent
        var agentStatus: JSONValue?
        do {
            let client = try ControlClient(path: socket)
            if let answer = client.call(["op": "status"]), answer["ok"] == true {
                agentStatus = answer["status"]
                let agent = answer["status"]?["agent"]
                report("OK", "agent", "answering on \(socket): version \(agent?["version"]?.cell ?? "?"), up \(agent?["uptime_s"]?.cell ?? "?") s\(agent?["simulated"] == true ? ", simulated" : "")")
            } else {
                report("WARN", "agent", "\(socket) accepted the connection but gave no status (restart it: systemctl restart chekt-bridge)")
            }
        } catch let denied as ControlClient.AccessDenied {
            // The tools cannot reach the agent as this user: a failure to fix, not an agent to start.
            report("FAIL", "agent", denied.summary)
        } catch {
            report("WARN", "agent", "none answering on \(socket) (start it: systemctl start chekt-bridge)")
        }

        // GPIO chips, by label, and every line: there, and free or held by the agent.
        if let site, !site.board.gpioChips.isEmpty {
            for finding in GPIOProbe.check(site.board) { report(finding.level.rawValue, finding.what, finding.detail) }
        }

        // Serial ports
        if let site {
            for bus in site.board.modbusBuses {
                switch bus.transport {
                case .rtu(let device, let baud, let parity, let dataBits, let stopBits):
                    if access(device, F_OK) != 0 {
                        report("FAIL", "modbus bus \(bus.id)", "\(device): \(Posix.describe(errno)); is the RS-485 adapter plugged in, and udev/99-chekt-bridge.rules installed?")
                    } else if access(device, R_OK | W_OK) != 0 {
                        var st = stat()
                        stat(device, &st)
                        let group = EtcGroup.name(of: st.st_gid).map { " (group \($0))" } ?? ""
                        report("FAIL", "modbus bus \(bus.id)", "\(device)\(group) is not readable and writable by uid \(getuid()); "
                               + "install udev/99-chekt-bridge.rules (group chekt-bridge), or add the user to the device's group")
                    } else {
                        report("OK", "modbus bus \(bus.id)", "\(device) \(baud) \(dataBits)\(parity.rawValue.prefix(1).uppercased())\(stopBits)")
                    }
                case .tcp(let host, let port):
                    report("OK", "modbus bus \(bus.id)", "TCP \(host):\(port) (reachability is supervised by the agent: see status)")
                }
            }
        }

        // Modbus devices: as the running agent sees them (it holds the buses), else asked once directly.
        if let site {
            let seen = (agentStatus?["devices"]?.arrayValue ?? []).reduce(into: [String: JSONValue]()) { $0[$1["id"]?.stringValue ?? ""] = $1 }
            for device in site.board.modbusDevices {
                let name = "modbus device \(device.id)"
                let fix = "check its power, the A/B wiring and termination, unit \(device.unit) and the bus settings in the board profile"
                if let entry = seen[device.id] {
                    let lastError = entry["diagnostics"]?["last_error"]?.stringValue
                    if entry["online"]?.boolValue == true {
                        let rtt = entry["diagnostics"]?["round_trip_ms"]?.cell
                        report("OK", name, "online (as the agent sees it)" + (rtt.map { ", last round trip \($0) ms" } ?? ""))
                    } else {
                        report("FAIL", name, "offline (as the agent sees it)" + (lastError.map { ": \($0)" } ?? "") + "; \(fix)")
                    }
                } else if agentStatus == nil {
                    switch ModbusProbe.probe(device, profile: site.board) {
                    case .success(let ms): report("OK", name, "answered in \(String(format3(ms))) ms")
                    case .failure(let failure):
                        report("FAIL", name, "\(failure.reason); " + (failure.isLink ? "its bus could not be opened: check the adapter or gateway (docs/hardware.md, \"Device states and errors\")" : fix))
                    }
                } else {
                    report("WARN", name, "the running agent does not report it (is it running another config?)")
                }
            }
        }

        // Credentials
        if let upstream = site?.config.upstream {
            var st = stat()
            if stat(upstream.credentials, &st) != 0 {
                report("FAIL", "credentials", "\(upstream.credentials): \(Posix.describe(errno))")
            } else if st.st_mode & 0o077 != 0 {
                report("FAIL", "credentials", "\(upstream.credentials) is readable by group or others; fix: chmod 600 \(upstream.credentials)")
            } else {
                report("OK", "credentials", "\(upstream.credentials), mode \(String(st.st_mode & 0o777, radix: 8))")
            }
        }

        // Clock
        let now = Posix.wallMillis()
        if now < 1_735_689_600_000 {
            report("FAIL", "clock", "the system time is \(Timestamp.rfc3339(now)): not set (no RTC and no NTP yet?)")
        } else if access("/run/systemd/timesync/synchronized", F_OK) == 0 {
            report("OK", "clock", "\(Timestamp.rfc3339(now)), synchronised by systemd-timesyncd")
        } else {
            report("WARN", "clock", "\(Timestamp.rfc3339(now)); no NTP synchronisation seen (/run/systemd/timesync/synchronized)")
        }

        // Upstream: the URL is allowed, and the platform answers over HTTP(S) with the configured CA.
        if let upstream = site?.config.upstream {
            switch UpstreamURL.validate(upstream.url) {
            case .failure(let e):
                report("FAIL", "upstream", e.description)
            case .success(let url):
                do {
                    let client = try HTTPClient(options: .init(userAgent: "chekt-bridge/\(AgentVersion.string) doctor",
                                                               connectTimeoutMs: 5000, timeoutMs: 10_000, caFile: upstream.caFile))
                    let t0 = Posix.monotonicMillis()
                    let response = try client.perform(HTTPRequest(method: "GET", url: url + "/"))
                    let ms = Posix.monotonicMillis() - t0
                    var detail = "\(url) answered HTTP \(response.status) in \(ms) ms"
                    if let date = response.header("date").flatMap(HTTPDate.parse) {
                        let skew = (date - Posix.wallMillis()) / 1000
                        detail += abs(skew) > 60 ? "; its clock differs from ours by \(skew) s" : "; clocks agree within a minute"
                    }
                    report("OK", "upstream", detail)
                } catch {
                    report("FAIL", "upstream", "\(url): \(error)")
                }
            }
        } else if site != nil {
            report("OK", "upstream", "local mode (no upstream configured)")
        }

        Output.out(failures == 0 ? "doctor: no failures" : "doctor: \(failures) failure(s)")
        // A config that cannot be used is a configuration error (cli.md: exit 2), whatever else failed.
        if site == nil { return Exit.usage.rawValue }
        return failures == 0 ? 0 : Exit.refused.rawValue
    }

    /// The FAIL line's detail for a config that cannot be used: its first problems as `config validate` prints
    /// them (each naming its file), and how to see them all.
    static func configProblems(_ issues: [ConfigIssue], path: String, shown: Int = 3) -> String {
        guard !issues.isEmpty else { return "\(path): cannot be used; run: chekt-bridge config validate \(path)" }
        let text = issues.prefix(shown).map(\.description).joined(separator: "; ")
        guard issues.count > shown else { return text }
        return text + "; and \(issues.count - shown) more (chekt-bridge config validate \(path) lists them all)"
    }

    /// Why the agent could not write its state folder, or nil when it can. The agent runs as `chekt-bridge`
    /// (the unit's `User=`), a technician runs doctor as themself: run as root or as the folder's owner, the
    /// check is the kernel's own (`access`); run as anyone else, the folder must belong to the agent's user and be
    /// writable by its owner, which is what a `0750 chekt-bridge:chekt-bridge` folder is, readable by the group's
    /// technicians but not writable by them.
    static func stateFolderProblem(_ dir: String, _ st: stat) -> String? {
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return "\(dir) is not a folder; remove it, or pass another state_dir" }
        let me = getuid()
        if me == 0 || st.st_uid == me {
            return access(dir, W_OK) == 0 ? nil : "\(dir) is not writable by uid \(me)\(me == 0 ? " (a read-only filesystem?)" : "")"
        }
        let agentUser = "chekt-bridge"
        guard let agent = getpwnam(agentUser) else {
            return "\(dir) is not writable by uid \(me), and there is no user \(agentUser) to run the agent: run doctor as the user the agent runs as"
        }
        let mode = String(st.st_mode & 0o7777, radix: 8)
        guard st.st_uid == agent.pointee.pw_uid, st.st_mode & S_IWUSR != 0 else {
            return "\(dir) (owner uid \(st.st_uid), mode \(mode)) is not writable by the agent's user \(agentUser); fix: chown -R \(agentUser):\(agentUser) \(dir) && chmod 0750 \(dir)"
        }
        return nil
    }
}

/// A number of milliseconds with at most 3 decimals.
private func format3(_ ms: Double) -> String {
    let rounded = (ms * 1000).rounded() / 1000
    return String(rounded)
}

extension ConfigLoader {
    /// The keys each site-config object may have, in documentation order (the order "did you mean" prefers).
    enum SiteKeys {
        static let top = ["bridge", "upstream", "outbox", "partitions", "zones", "relays"]
        static let bridge = ["id", "board", "state_dir"]
        static let upstream = ["url", "credentials", "heartbeat_s", "ca_file"]
        static let outbox = ["max_mb"]
        static let partition = ["id", "exit_delay_s", "entry_delay_s", "remote_exit_delay_s", "siren", "keyswitch"]
        static let siren = ["relay", "timeout_s"]
        static let keyswitch = ["relay", "hold", "pulse_ms", "armed_input", "confirm_timeout_s"]
        static let zone = ["id", "input", "partition", "type", "bypassable", "swinger_limit"]
        static let relay = ["id", "output", "mode", "pulse_ms", "max_on_ms", "power_on", "safe_state", "interlock",
                            "interlock_gap_ms"]
    }

    static let delayRange = 0...600

    // MARK: Decoding

    static func decodeSite(_ root: JSONValue, decoder d: inout ConfigDecoder) -> SiteConfig? {
        // A board profile given where a site config belongs would otherwise be a screenful of unknown keys.
        if let fields = root.objectValue, fields["bridge"] == nil, fields["name"] != nil || fields["gpio_chips"] != nil {
            d.report("", "this is a board profile, not a site config (it has \"name\" and no \"bridge\"); "
                     + "check it with `chekt-bridge board validate`, or name it in a site config's \"bridge\": {\"board\": ...}")
            return nil
        }
        guard let top = d.object(root, at: "", keys: SiteKeys.top) else { return nil }
        var config = SiteConfig(bridge: decodeBridge(top, decoder: &d))
        if let o = d.object(top, "upstream", keys: SiteKeys.upstream) {
            config.upstream = decodeUpstream(o, decoder: &d)
        }
        if let o = d.object(top, "outbox", keys: SiteKeys.outbox) {
            config.outbox.maxMB = d.int(o, "max_mb", in: 1...4096) ?? 64
        }
        config.partitions = d.array(top, "partitions").map { decodePartition($0.value, at: $0.path, decoder: &d) }
        config.zones = d.array(top, "zones").map { decodeZone($0.value, at: $0.path, decoder: &d) }
        config.relays = d.array(top, "relays").map { decodeRelay($0.value, at: $0.path, decoder: &d) }
        return config
    }

    private static func decodeBridge(_ top: ConfigDecoder.Object, decoder d: inout ConfigDecoder) -> SiteConfig.Bridge {
        guard let o = d.object(top, "bridge", keys: SiteKeys.bridge, required: true) else { return .init(id: "", board: "") }
        let id = d.string(o, "id", required: true) ?? ""
        // The bridge id goes into URLs, file names and signed requests: keep it to a safe alphabet.
        let allowed = id.unicodeScalars.allSatisfy {
            $0.isASCII && (("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0))
        }
        if !allowed {
            d.report(o.path("id"), "bridge id \(ConfigText.quoted(id)) may contain only letters, digits, \"_\", \".\" and \"-\"")
        }
        return .init(id: id, board: d.string(o, "board", required: true) ?? "",
                     stateDir: d.string(o, "state_dir") ?? "/var/lib/chekt-bridge")
    }

    private static func decodeUpstream(_ o: ConfigDecoder.Object, decoder d: inout ConfigDecoder) -> SiteConfig.Upstream {
        let url = d.string(o, "url", required: true) ?? ""
        if !url.isEmpty, let problem = upstreamURLProblem(url) { d.report(o.path("url"), problem) }
        return .init(url: url, credentials: d.string(o, "credentials", required: true) ?? "",
                     heartbeatS: d.int(o, "heartbeat_s", in: 5...3600) ?? 60,
                     caFile: d.string(o, "ca_file"))
    }

    /// Why `url` may not be used for the platform, or nil when it may.
    ///
    /// Credentials and signed commands travel over this link: plain http is
    /// accepted only to a loopback host (a local test platform or a tunnel's end).
    static func upstreamURLProblem(_ url: String) -> String? {
        let lower = url.lowercased()
        let rest: Substring
        let secure: Bool
        if lower.hasPrefix("https://") {
            rest = url.dropFirst(8); secure = true
        } else if lower.hasPrefix("http://") {
            rest = url.dropFirst(7); secure = false
        } else {
            return "expected an https:// URL, found \(ConfigText.quoted(url))"
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let hostAndPort = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? authority
        let host: Substring
        if hostAndPort.hasPrefix("[") {
            host = hostAndPort.prefix { $0 != "]" } + (hostAndPort.contains("]" as Character) ? "]" : "")
        } else {
            host = hostAndPort.prefix { $0 != ":" }
        }
        if host.isEmpty { return "URL \(ConfigText.quoted(url)) has no host" }
        if !secure && !isLoopback(String(host)) {
            return "plain http is refused except to loopback (localhost, 127.0.0.0/8, [::1]); use https://"
        }
        return nil
    }

    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        if h == "localhost" || h == "localhost." || h == "[::1]" || h == "[0:0:0:0:0:0:0:1]" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        let octets = parts.compactMap { p in p.allSatisfy(\.isASCII) && !p.isEmpty && p.count <= 3 ? Int(p) : nil }
        return octets.count == 4 && octets.allSatisfy { $0 <= 255 } && octets[0] == 127
    }

    private static func decodePartition(_ value: JSONValue, at path: String, decoder d: inout ConfigDecoder) -> SiteConfig.Partition {
        guard let o = d.object(value, at: path, keys: SiteKeys.partition) else { return .init(id: "") }
        var partition = SiteConfig.Partition(id: d.id(o) ?? "",
                                             exitDelayS: d.int(o, "exit_delay_s", in: delayRange) ?? 30,
                                             entryDelayS: d.int(o, "entry_delay_s", in: delayRange) ?? 30,
                                             remoteExitDelayS: d.int(o, "remote_exit_delay_s", in: delayRange) ?? 0)
        if let s = d.object(o, "siren", keys: SiteKeys.siren) {
            partition.siren = .init(relay: d.string(s, "relay", required: true) ?? "",
                                    timeoutS: d.int(s, "timeout_s", in: 1...3600) ?? 240)
        }
        if let k = d.object(o, "keyswitch", keys: SiteKeys.keyswitch) {
            partition.keyswitch = .init(relay: d.string(k, "relay", required: true) ?? "",
                                        hold: d.bool(k, "hold") ?? false,
                                        pulseMs: d.int(k, "pulse_ms", in: 50...60_000) ?? 1000,
                                        armedInput: d.string(k, "armed_input", required: true) ?? "",
                                        confirmTimeoutS: d.int(k, "confirm_timeout_s", in: 1...300) ?? 10)
        }
        return partition
    }

    private static func decodeZone(_ value: JSONValue, at path: String, decoder d: inout ConfigDecoder) -> SiteConfig.Zone {
        guard let o = d.object(value, at: path, keys: SiteKeys.zone) else {
            return .init(id: "", input: "", partition: "", type: .instant)
        }
        return SiteConfig.Zone(id: d.id(o) ?? "", input: d.string(o, "input", required: true) ?? "",
                               partition: d.string(o, "partition", required: true) ?? "",
                               type: d.choice(o, "type", SiteConfig.ZoneType.self, required: true) ?? .instant,
                               bypassable: d.bool(o, "bypassable"),
                               swingerLimit: d.int(o, "swinger_limit", in: 1...100) ?? 3)
    }

    private static func decodeRelay(_ value: JSONValue, at path: String, decoder d: inout ConfigDecoder) -> SiteConfig.Relay {
        guard let o = d.object(value, at: path, keys: SiteKeys.relay) else { return .init(id: "", output: "") }
        let id = d.id(o) ?? ""
        let output = d.string(o, "output", required: true) ?? ""
        let mode = d.choice(o, "mode", SiteConfig.RelayMode.self) ?? .latch
        let pulseMs = d.int(o, "pulse_ms", in: 10...3_600_000)
        if mode == .pulse && !o.has("pulse_ms") {
            d.report(o.path, "missing required key \"pulse_ms\" (required when mode is \"pulse\")")
        }
        let interlockGap = d.int(o, "interlock_gap_ms", in: 0...10_000) ?? 0
        if o.has("interlock_gap_ms") && !o.has("interlock") {
            d.report(o.path("interlock_gap_ms"), "interlock_gap_ms applies only with \"interlock\"")
        }
        return SiteConfig.Relay(id: id, output: output, mode: mode, pulseMs: pulseMs,
                                maxOnMs: d.int(o, "max_on_ms", in: 10...86_400_000),
                                powerOn: d.choice(o, "power_on", SiteConfig.PowerOn.self) ?? .off,
                                safeState: d.choice(o, "safe_state", SiteConfig.SafeState.self) ?? .off,
                                interlock: d.string(o, "interlock"), interlockGapMs: interlockGap)
    }

    // MARK: Checks within the site config

    /// Unique ids, references among partitions, zones and relays, and combinations that would misbehave.
    static func checkSite(_ config: SiteConfig, decoder d: inout ConfigDecoder) {
        var owners: [String: String] = [:]
        for (i, p) in config.partitions.enumerated() where !p.id.isEmpty {
            checkUnique(p.id, at: "partitions[\(i)]", owners: &owners, decoder: &d)
        }
        owners = [:]
        for (i, z) in config.zones.enumerated() where !z.id.isEmpty {
            checkUnique(z.id, at: "zones[\(i)]", owners: &owners, decoder: &d)
        }
        owners = [:]
        for (i, r) in config.relays.enumerated() where !r.id.isEmpty {
            checkUnique(r.id, at: "relays[\(i)]", owners: &owners, decoder: &d)
        }

        let partitionIDs = config.partitions.map(\.id).filter { !$0.isEmpty }
        for (i, z) in config.zones.enumerated() where !z.partition.isEmpty && !partitionIDs.contains(z.partition) {
            d.report("zones[\(i)].partition", noSuch("partition", z.partition, has: partitionIDs))
        }

        for (i, r) in config.relays.enumerated() {
            if let pulse = r.pulseMs, let maxOn = r.maxOnMs, pulse > maxOn {
                d.report("relays[\(i)].pulse_ms", "pulse_ms \(pulse) is longer than max_on_ms \(maxOn); "
                         + "the relay would be released before the pulse ends")
            }
        }

        // Interlocked relays are never on together, so at most one of a group may be "on" at power-on or shutdown.
        var powerOnUsers: [String: String] = [:]
        var safeStateUsers: [String: String] = [:]
        for (i, r) in config.relays.enumerated() {
            guard let group = r.interlock else { continue }
            let me = "relay \(ConfigText.quoted(r.id)) (relays[\(i)])"
            if r.powerOn == .on {
                if let first = powerOnUsers[group] {
                    d.report("relays[\(i)].power_on", "\(first) is already \"on\" at power-on in interlock "
                             + "\(ConfigText.quoted(group)); at most one relay of a group can be on")
                } else { powerOnUsers[group] = me }
            }
            if r.safeState == .on {
                if let first = safeStateUsers[group] {
                    d.report("relays[\(i)].safe_state", "\(first) already has safe_state \"on\" in interlock "
                             + "\(ConfigText.quoted(group)); at most one relay of a group can be on")
                } else { safeStateUsers[group] = me }
            }
        }

        let relayIDs = config.relays.map(\.id).filter { !$0.isEmpty }
        var sirenOf: [String: String] = [:]
        for (i, p) in config.partitions.enumerated() {
            guard let siren = p.siren, !siren.relay.isEmpty else { continue }
            if relayIDs.contains(siren.relay) {
                if sirenOf[siren.relay] == nil { sirenOf[siren.relay] = "partition \(ConfigText.quoted(p.id)) (partitions[\(i)])" }
            } else {
                d.report("partitions[\(i)].siren.relay", noSuch("relay", siren.relay, has: relayIDs))
            }
        }
        var keyswitchOf: [String: String] = [:]
        for (i, p) in config.partitions.enumerated() {
            guard let keyswitch = p.keyswitch, !keyswitch.relay.isEmpty else { continue }
            let path = "partitions[\(i)].keyswitch"
            guard let relay = config.relays.first(where: { $0.id == keyswitch.relay }) else {
                d.report("\(path).relay", noSuch("relay", keyswitch.relay, has: relayIDs))
                continue
            }
            // The keyswitch relay is the panel's arming key: sounding the siren with it would arm or disarm the panel.
            if let siren = sirenOf[keyswitch.relay] {
                d.report("\(path).relay", "relay \(ConfigText.quoted(keyswitch.relay)) is also the siren of \(siren); "
                         + "a keyswitch relay cannot be a siren relay")
            }
            if let first = keyswitchOf[keyswitch.relay] {
                d.report("\(path).relay", "relay \(ConfigText.quoted(keyswitch.relay)) is already the keyswitch of \(first)")
            } else {
                keyswitchOf[keyswitch.relay] = "partition \(ConfigText.quoted(p.id)) (partitions[\(i)])"
            }
            if let maxOn = relay.maxOnMs {
                if keyswitch.hold {
                    d.report("\(path).hold", "a held keyswitch is on for as long as the panel is armed, but relay "
                             + "\(ConfigText.quoted(relay.id)) has max_on_ms \(maxOn), which would disarm the panel; "
                             + "remove max_on_ms from that relay or use \"hold\": false")
                } else if keyswitch.pulseMs > maxOn {
                    d.report("\(path).pulse_ms", "pulse_ms \(keyswitch.pulseMs) is longer than relay "
                             + "\(ConfigText.quoted(relay.id))'s max_on_ms \(maxOn)")
                }
            }
        }
    }

    // MARK: Cross-checks against the board

    /// Checks a site config's references into its board: each zone's input, each relay's output and each
    /// keyswitch's armed input exists on the board, and no input or output is used twice.
    ///
    /// Paths are those of the file the config was decoded from (`zones[3].input`);
    /// `file` names that file in the issues. Returns `[]` when all is well.
    public static func crossCheck(_ config: SiteConfig, board: BoardProfile, file: String) -> [ConfigIssue] {
        var d = ConfigDecoder(file: file)
        let boardName = board.name.isEmpty ? "(unnamed)" : board.name
        let inputIDs = board.inputs.map(\.id).filter { !$0.isEmpty }
        let outputIDs = board.outputs.map(\.id).filter { !$0.isEmpty }

        /// Each `(user id, board id)` names a board input/output that exists and that no earlier user took.
        func checkUsedOnce(_ uses: [(id: String, ref: String)], user: String, array: String, key: String,
                           kind: String, has ids: [String]) {
            var usedBy: [String: String] = [:]
            for (i, use) in uses.enumerated() where !use.ref.isEmpty {
                let path = "\(array)[\(i)].\(key)"
                guard ids.contains(use.ref) else {
                    d.report(path, noSuch(kind, use.ref, has: ids, board: boardName))
                    continue
                }
                if let first = usedBy[use.ref] {
                    d.report(path, "\(kind) \(ConfigText.quoted(use.ref)) is already used by \(first)")
                } else {
                    usedBy[use.ref] = "\(user) \(ConfigText.quoted(use.id)) (\(array)[\(i)])"
                }
            }
        }
        checkUsedOnce(config.zones.map { ($0.id, $0.input) }, user: "zone", array: "zones", key: "input",
                      kind: "input", has: inputIDs)
        checkUsedOnce(config.relays.map { ($0.id, $0.output) }, user: "relay", array: "relays", key: "output",
                      kind: "output", has: outputIDs)

        var keyswitchOf: [String: String] = [:]
        for (i, p) in config.partitions.enumerated() {
            guard let input = p.keyswitch?.armedInput, !input.isEmpty else { continue }
            let path = "partitions[\(i)].keyswitch.armed_input"
            guard inputIDs.contains(input) else {
                d.report(path, noSuch("input", input, has: inputIDs, board: boardName))
                continue
            }
            // One panel status input cannot confirm two partitions' arming independently.
            if let first = keyswitchOf[input] {
                d.report(path, "input \(ConfigText.quoted(input)) is already the armed_input of \(first)")
            } else {
                keyswitchOf[input] = "partition \(ConfigText.quoted(p.id)) (partitions[\(i)])"
            }
        }
        return d.issues
    }
}

/// The site's configuration indexed for the engine: lookups by id and the
/// relations behaviour.md walks (zones of an input, inputs of a device, ...),
/// each list in configuration order so that effects come out in that order.
struct SiteCatalog: Sendable {
    /// A supervised device: a Modbus device or a GPIO chip.
    struct Device: Sendable {
        var id: String
        var kind: String            // "modbus" | "gpio"
        var address: String
        var offlineAfter: Int
    }

    let inputOrder: [String]
    let outputOrder: [String]
    let inputs: [String: BoardProfile.BoardInput]
    let partitions: [String: SiteConfig.Partition]
    let zones: [String: SiteConfig.Zone]
    let relays: [String: SiteConfig.Relay]
    let devices: [String: Device]
    let deviceOrder: [String]
    let zonesByInput: [String: [String]]
    let zonesByPartition: [String: [String]]
    let deviceOfInput: [String: String]
    let inputsOfDevice: [String: [String]]
    /// Relay id → partitions naming it as their siren.
    let sirenOf: [String: [String]]
    /// Interlock group → its relays.
    let interlockGroups: [String: [String]]
    let config: SiteConfig

    init(site: Site) {
        let board = site.board
        config = site.config
        inputOrder = board.inputs.map(\.id)
        outputOrder = board.outputs.map(\.id)
        inputs = Dictionary(board.inputs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        partitions = Dictionary(config.partitions.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        zones = Dictionary(config.zones.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        relays = Dictionary(config.relays.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })

        var devices: [Device] = board.gpioChips.map {
            Device(id: $0.id, kind: "gpio", address: $0.labels.joined(separator: "|"), offlineAfter: 1)
        }
        for d in board.modbusDevices {
            let address: String
            switch board.bus(d.bus)?.transport {
            case .rtu(let device, _, _, _, _): address = "\(device) unit \(d.unit)"
            case .tcp(let host, let port): address = "\(host):\(port) unit \(d.unit)"
            case nil: address = "\(d.bus) unit \(d.unit)"
            }
            devices.append(Device(id: d.id, kind: "modbus", address: address, offlineAfter: max(1, d.offlineAfter)))
        }
        deviceOrder = devices.map(\.id)
        self.devices = Dictionary(devices.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })

        var zonesByInput: [String: [String]] = [:]
        var zonesByPartition: [String: [String]] = [:]
        for z in config.zones {
            zonesByInput[z.input, default: []].append(z.id)
            zonesByPartition[z.partition, default: []].append(z.id)
        }
        self.zonesByInput = zonesByInput
        self.zonesByPartition = zonesByPartition

        var deviceOfInput: [String: String] = [:]
        var inputsOfDevice: [String: [String]] = [:]
        for i in board.inputs {
            if let d = board.deviceID(ofInput: i.id) {
                deviceOfInput[i.id] = d
                inputsOfDevice[d, default: []].append(i.id)
            }
        }
        self.deviceOfInput = deviceOfInput
        self.inputsOfDevice = inputsOfDevice

        var sirenOf: [String: [String]] = [:]
        for p in config.partitions { if let s = p.siren { sirenOf[s.relay, default: []].append(p.id) } }
        self.sirenOf = sirenOf
        var groups: [String: [String]] = [:]
        for r in config.relays { if let g = r.interlock { groups[g, default: []].append(r.id) } }
        interlockGroups = groups
    }

    /// "main, garage" — what exists, for `unknown_target` messages.
    static func listing(_ ids: [String]) -> String { ids.isEmpty ? "none configured" : ids.joined(separator: ", ") }
}

/// What the core asks the agent to do. The agent carries effects out in order.
public enum Effect: Sendable, Equatable {
    /// Drive a board output: `active` true energises it (the board maps `active_low`).
    case setOutput(output: String, active: Bool)
    /// Record an event (the agent adds `id`, `seq` and `occurred_at` and makes it durable).
    case record(EventType, JSONObject)
    /// A request has completed.
    case complete(Ticket, RequestResult)
}

/// How one Modbus transaction (or a GPIO chip check) went, as the hardware reports it.
public enum DeviceOutcome: Sendable, Equatable {
    case ok
    /// `reason` is short and for people: `timeout`, `crc_error`, `exception 2 (illegal data address)`, `not found`.
    case failed(reason: String)
}

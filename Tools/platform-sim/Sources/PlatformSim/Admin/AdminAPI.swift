import HTTPTypes
import Hummingbird
import HummingbirdCore

/// The admin API under `/admin`, for tests and the demo page: issue commands, read what bridges sent, inject faults.
///
/// No authentication; loopback peers only (403 otherwise), so binding the platform to another address never
/// exposes it.
struct AdminAPI: Sendable {
    let store: PlatformStore

    /// The app id commands carry when the admin request names none.
    static let defaultApp = "app_platform_sim"
    /// Default command lifetime (protocol.md leaves it to the platform; the brief says issued + 60 s).
    static let defaultExpiresInS = 60.0

    func register(on router: Router<SimRequestContext>) {
        let admin = router.group("admin").add(middleware: LoopbackOnly())
        admin.get("bridges") { _, _ in self.listBridges() }
        admin.post("bridges") { request, context in try await self.addBridge(request, context) }
        admin.post("bridges/:bridge/commands") { request, context in try await self.issueCommand(request, context) }
        admin.get("bridges/:bridge/commands") { _, context in self.listCommands(context) }
        admin.get("bridges/:bridge/events") { request, context in self.events(request, context) }
        admin.get("bridges/:bridge/results") { _, context in self.results(context) }
        admin.get("bridges/:bridge/state") { _, context in self.state(context) }
        admin.get("bridges/:bridge/requests") { _, context in self.requests(context) }
        admin.post("faults") { request, context in try await self.addFault(request, context) }
        admin.get("faults") { _, _ in self.listFaults() }
        admin.delete("faults") { _, _ in
            self.store.withState { $0.faults.clear() }
            return Reply.noContent()
        }
        admin.delete("faults/:fault") { _, context in
            let id = context.parameters.get("fault") ?? ""
            let removed = self.store.withState { $0.faults.remove(id: id) }
            return removed ? Reply.noContent() : Reply.error(.notFound, "unknown_fault", "no fault \"\(id)\" in force")
        }
    }

    // MARK: Bridges

    private func listBridges() -> Response {
        let list: [JSONValue] = store.withState { s in
            s.bridgeIDs.map { id in
                let r = s.bridges[id]!
                return [
                    "id": .string(id), "events": .integer(Int64(r.events.count)),
                    "commands": .integer(Int64(r.commands.count)), "results": .integer(Int64(r.results.count)),
                    "state_count": .integer(Int64(r.stateCount)),
                    "last_state_at": r.stateLastAt.map { .string(Timestamp.rfc3339($0)) } ?? .null,
                    "last_request_at": r.requests.last.map { .string(Timestamp.rfc3339($0.at)) } ?? .null,
                ]
            }
        }
        return Reply.json(.ok, ["bridges": .array(list)])
    }

    private func addBridge(_ incoming: Request, _ context: SimRequestContext) async throws -> Response {
        let body: JSONValue
        switch try await parseBody(incoming, context) {
        case .success(let b): body = b
        case .failure(let reply): return reply.response
        }
        guard let id = body["id"]?.stringValue else { return badRequest("id: required, a string") }
        if let problem = BridgeRegistration.validateID(id) { return badRequest(problem) }
        var credentialsJSON = body.objectValue ?? [:]
        credentialsJSON["id"] = nil
        let credentials: BridgeCredentials
        do {
            credentials = try BridgeCredentials.from(.object(credentialsJSON), source: "body")
        } catch {
            return badRequest(error.message)
        }
        let created = store.register(BridgeRegistration(id: id, credentials: credentials))
        return Reply.json(created ? .created : .ok, ["id": .string(id), "created": .bool(created)])
    }

    // MARK: Commands

    /// `POST /admin/bridges/{id}/commands`: one command request (an object), or several (an array of them), which
    /// are issued together: at consecutive positions under one lock, so one poll answer carries them all.
    private func issueCommand(_ incoming: Request, _ context: SimRequestContext) async throws -> Response {
        let bridge = context.parameters.get("bridge") ?? ""
        guard store.withState({ $0.bridges[bridge] != nil }) else { return unknownBridge(bridge) }
        let body: JSONValue
        switch try await parseBody(incoming, context) {
        case .success(let b): body = b
        case .failure(let reply): return reply.response
        }
        let issuedAt = store.now()
        if let list = body.arrayValue {
            guard !list.isEmpty else { return badRequest("expected at least one command request in the array") }
            var commands: [PlatformCommand] = []
            for (i, item) in list.enumerated() {
                switch command(from: item, issuedAt: issuedAt) {
                case .success(let c): commands.append(c)
                case .failure(let problem): return badRequest("[\(i)]: \(problem.message)")
                }
            }
            store.enqueue(commands, bridge: bridge)
            return Reply.json(.created, .array(commands.map(\.json)))
        }
        switch command(from: body, issuedAt: issuedAt) {
        case .success(let c):
            store.enqueue([c], bridge: bridge)
            return Reply.json(.created, c.json)
        case .failure(let problem):
            return badRequest(problem.message)
        }
    }

    /// Why a command request cannot be issued.
    struct IssueProblem: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// One command request: `{"type", "params"?, "expires_in_s"?, "scopes"?, "app"?, "id"?}`, or a raw command
    /// `{"raw": TEXT, "id": ID}` whose text goes into the poll answer verbatim (nothing checks it is JSON).
    private func command(from body: JSONValue, issuedAt: Millis) -> Result<PlatformCommand, IssueProblem> {
        guard let m = body.objectValue else {
            return .failure(IssueProblem("expected a JSON object with \"type\" (or \"raw\" and \"id\")"))
        }
        if let raw = m["raw"] {
            for key in m.keys.sorted() where key != "raw" && key != "id" {
                return .failure(IssueProblem("unknown key \"\(key)\" beside \"raw\" (allowed: id, raw; the raw text is the whole command)"))
            }
            guard let text = raw.stringValue, !text.isEmpty else {
                return .failure(IssueProblem("raw: expected the command object's text, a non-empty string"))
            }
            guard let id = m["id"]?.stringValue, !id.isEmpty else {
                return .failure(IssueProblem("id: required with raw, a non-empty string (results are filed under it)"))
            }
            return .success(PlatformCommand.raw(id: id, text: text, issuedAt: issuedAt))
        }
        let allowed: Set<String> = ["type", "params", "expires_in_s", "scopes", "app", "id", "raw"]
        for key in m.keys.sorted() where !allowed.contains(key) {
            return .failure(IssueProblem("unknown key \"\(key)\" (allowed: \(allowed.sorted().joined(separator: ", ")))"))
        }
        guard let type = m["type"]?.stringValue, !type.isEmpty else {
            return .failure(IssueProblem("type: required, e.g. \"partition.arm\""))
        }
        let params = m["params"] ?? .object([:])
        guard params.objectValue != nil else { return .failure(IssueProblem("params: expected an object")) }
        var expiresInS = Self.defaultExpiresInS
        if let e = m["expires_in_s"] {
            guard let v = e.doubleValue else { return .failure(IssueProblem("expires_in_s: expected a number of seconds")) }
            expiresInS = v
        }
        var scopes = PlatformCommand.defaultScopes(for: type)
        if let sc = m["scopes"] {
            guard let list = sc.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                return .failure(IssueProblem("scopes: expected an array of strings"))
            }
            scopes = list.compactMap(\.stringValue)
        }
        var app = Self.defaultApp
        if let a = m["app"] {
            guard let s = a.stringValue, !s.isEmpty else { return .failure(IssueProblem("app: expected a non-empty string")) }
            app = s
        }
        var id = PlatformCommand.newID()
        if let i = m["id"] {
            guard let s = i.stringValue, !s.isEmpty else { return .failure(IssueProblem("id: expected a non-empty string")) }
            id = s
        }
        return .success(
            PlatformCommand(
                id: id, type: type, params: params, issuedAt: issuedAt,
                expiresAt: issuedAt + Millis((expiresInS * 1000).rounded()), app: app, scopes: scopes))
    }

    private func listCommands(_ context: SimRequestContext) -> Response {
        let bridge = context.parameters.get("bridge") ?? ""
        let answer: JSONValue? = store.withState { s in
            guard let r = s.bridges[bridge] else { return nil }
            let list: [JSONValue] = r.commands.enumerated().map { index, command in
                var m = command.json.objectValue!
                m["position"] = .integer(Int64(index + 1))
                m["delivered"] = .bool(index + 1 <= r.deliveredUpTo)
                m["result"] = r.results[command.id]?.json ?? .null
                return .object(m)
            }
            return ["commands": .array(list), "delivered_up_to": .integer(Int64(r.deliveredUpTo))]
        }
        guard let answer else { return unknownBridge(bridge) }
        return Reply.json(.ok, answer)
    }

    // MARK: What bridges sent

    private func events(_ request: Request, _ context: SimRequestContext) -> Response {
        let bridge = context.parameters.get("bridge") ?? ""
        var limit: Int? = nil
        if let text = request.uri.queryParameters.get("limit") {
            guard let l = Int(text), l >= 0 else { return badRequest("limit: expected an integer >= 0") }
            limit = l
        }
        let answer: JSONValue? = store.withState { s in
            guard let r = s.bridges[bridge] else { return nil }
            let events = limit.map { Array(r.events.suffix($0)) } ?? r.events
            return [
                "events": .array(events.map(\.json)),
                "total": .integer(Int64(r.events.count)),
                "order_violations": .array(r.orderViolations.map(\.json)),
                "duplicates_received": .integer(Int64(r.duplicatesReceived)),
            ]
        }
        guard let answer else { return unknownBridge(bridge) }
        return Reply.json(.ok, answer)
    }

    private func results(_ context: SimRequestContext) -> Response {
        let bridge = context.parameters.get("bridge") ?? ""
        let answer: JSONValue? = store.withState { s in
            guard let r = s.bridges[bridge] else { return nil }
            return ["results": .object(r.results.mapValues(\.json))]
        }
        guard let answer else { return unknownBridge(bridge) }
        return Reply.json(.ok, answer)
    }

    private func state(_ context: SimRequestContext) -> Response {
        let bridge = context.parameters.get("bridge") ?? ""
        let answer: JSONValue? = store.withState { s in
            guard let r = s.bridges[bridge] else { return nil }
            return [
                "state": r.state ?? .null, "count": .integer(Int64(r.stateCount)),
                "last_at": r.stateLastAt.map { .string(Timestamp.rfc3339($0)) } ?? .null,
            ]
        }
        guard let answer else { return unknownBridge(bridge) }
        return Reply.json(.ok, answer)
    }

    private func requests(_ context: SimRequestContext) -> Response {
        let bridge = context.parameters.get("bridge") ?? ""
        let answer: JSONValue? = store.withState { s in
            guard let r = s.bridges[bridge] else { return nil }
            return .array(r.requests.map(\.json))
        }
        guard let answer else { return unknownBridge(bridge) }
        return Reply.json(.ok, answer)
    }

    // MARK: Faults

    private func addFault(_ incoming: Request, _ context: SimRequestContext) async throws -> Response {
        let body: JSONValue
        switch try await parseBody(incoming, context) {
        case .success(let b): body = b
        case .failure(let reply): return reply.response
        }
        let real = store.realNow()
        let request: FaultRequest
        do {
            request = try FaultRequest.parse(body, now: real)
        } catch {
            return badRequest(error.message)
        }
        switch request {
        case .install(let fault):
            if let b = fault.bridge, store.withState({ $0.bridges[b] == nil }) { return unknownBridge(b) }
            let installed = store.withState { $0.faults.install(fault) }
            // A parked poll may now have something to answer (duplicate_command); it re-checks and waits on.
            store.wakeAllPolls()
            return Reply.json(.created, installed.json)
        case .rotateKey(let named, let credentials):
            let outcome: Result<String, Reply.Failure> = store.withState { s in
                let ids = s.bridgeIDs
                guard let id = named ?? (ids.count == 1 ? ids[0] : nil) else {
                    return .failure(
                        Reply.Failure(
                            response: Reply.error(
                                .badRequest, "invalid_fault",
                                "rotate_key: name the bridge (\"bridge\"), there are \(ids.count)")))
                }
                guard s.bridges[id] != nil else {
                    return .failure(Reply.Failure(response: Reply.error(.notFound, "unknown_bridge", "no bridge \"\(id)\"")))
                }
                s.bridges[id]!.credentials = credentials
                return .success(id)
            }
            switch outcome {
            case .success(let id):
                return Reply.json(.created, ["kind": "rotate_key", "bridge": .string(id), "applied": true])
            case .failure(let f):
                return f.response
            }
        }
    }

    private func listFaults() -> Response {
        let real = store.realNow()
        let faults = store.withState { $0.faults.active(now: real) }
        return Reply.json(.ok, ["faults": .array(faults.map(\.json))])
    }

    // MARK: Helpers

    private func parseBody(_ incoming: Request, _ context: SimRequestContext) async throws -> Result<
        JSONValue, Reply.Failure
    > {
        var request = incoming
        guard case .success(let bytes) = try await request.bodyBytes(context: context) else {
            return .failure(Reply.Failure(response: Reply.error(.contentTooLarge, "body_too_large", "body too large")))
        }
        do {
            return .success(try JSONValue.parse(bytes))
        } catch {
            return .failure(Reply.Failure(response: Reply.error(.badRequest, "invalid_body", error.description)))
        }
    }

    private func badRequest(_ message: String) -> Response { Reply.error(.badRequest, "invalid_request", message) }

    private func unknownBridge(_ id: String) -> Response {
        Reply.error(.notFound, "unknown_bridge", "no bridge \"\(id)\" is registered on this platform")
    }
}

/// Refuses (403) requests from peers other than this machine.
struct LoopbackOnly: RouterMiddleware {
    typealias Context = SimRequestContext

    func handle(
        _ request: Request, context: SimRequestContext,
        next: (Request, SimRequestContext) async throws -> Response
    ) async throws -> Response {
        guard context.isLoopback else {
            return Reply.error(.forbidden, "loopback_only", "the admin API and the demo page answer loopback peers only")
        }
        return try await next(request, context)
    }
}

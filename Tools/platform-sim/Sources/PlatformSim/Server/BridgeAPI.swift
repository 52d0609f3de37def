import HTTPTypes
import Hummingbird
import HummingbirdCore
import ServiceLifecycle

/// The platform side of protocol.md under `/v1`: events, commands (long poll), results and state.
///
/// Every request passes, in this order: unknown bridge (404), injected faults (`delay`, `drop`, `status`), the
/// bearer key (401 `unauthorized`), `X-Bridge-Id` (401 `bridge_mismatch`), the body signature and its ±300 s window
/// (401 `bad_signature`). Faults come first because they stand for the network and load balancers in front of a
/// real platform, which answer before any authentication.
struct BridgeAPI: Sendable {
    let store: PlatformStore

    /// Largest events body (protocol.md: 256 KiB per request).
    static let maxBatchBytes = 256 * 1024
    /// Largest events batch (protocol.md: 100 events per request).
    static let maxBatchEvents = 100
    /// Default and largest long-poll wait.
    static let defaultWaitS = 25.0
    static let maxWaitS = 60.0

    /// A request that passed the preamble.
    struct Call: Sendable {
        let bridge: String
        let body: [UInt8]
        let credentials: BridgeCredentials
        /// The body already parsed (a POST of events, parsed once for the request log); nil: parse `body`.
        var parsed: JSONValue? = nil
    }

    func register(on router: Router<SimRequestContext>) {
        let bridges = router.group("v1/bridges/:bridge")
        bridges.post("events") { request, context in
            try await self.serve(.events, request, context) { call in self.events(call) }
        }
        bridges.get("commands") { request, context in
            try await self.serve(.commands, request, context) { call in await self.commands(call, request.uri) }
        }
        bridges.post("commands/:command/result") { request, context in
            let commandID = context.parameters.get("command") ?? ""
            return try await self.serve(.result, request, context) { call in self.result(call, commandID: commandID) }
        }
        bridges.put("state") { request, context in
            try await self.serve(.state, request, context) { call in self.state(call) }
        }
    }

    // MARK: Preamble

    private func serve(
        _ route: RouteKind, _ incoming: Request, _ context: SimRequestContext,
        _ handler: @Sendable (Call) async -> Response
    ) async throws -> Response {
        var request = incoming
        let bridge = context.parameters.get("bridge") ?? ""
        guard let credentials = store.withState({ $0.bridges[bridge]?.credentials }) else {
            return Reply.error(
                .notFound, "unknown_bridge",
                "no bridge \"\(bridge)\" is registered on this platform (known: \(store.withState { $0.bridgeIDs }.joined(separator: ", ")))"
            )
        }

        let real = store.realNow()
        let delay = store.withState { s in
            s.faults.take(now: real, bridge: bridge, route: route) { if case .delay = $0 { true } else { false } }
        }
        if let delay, case .delay(let ms) = delay.kind {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(ms)) }
        }
        let drop = store.withState { s in
            s.faults.take(now: real, bridge: bridge, route: route) { if case .drop = $0 { true } else { false } }
        }
        var dropAfter = false
        if let drop, case .drop(let after) = drop.kind {
            if !after { throw ConnectionDrop(afterProcessing: false) }
            dropAfter = true
        }
        let body: [UInt8]
        switch try await request.bodyBytes(context: context) {
        case .success(let b): body = b
        case .failure:
            return Reply.error(.contentTooLarge, "body_too_large", "request body over \(context.maxUploadSize) bytes")
        }
        // The request log shows which events each POST carried, also when a fault answers it.
        let parsed = route == .events ? try? JSONValue.parse(body) : nil
        let call = Call(bridge: bridge, body: body, credentials: credentials, parsed: parsed)
        var response = try await answer(route, request, call, real: real, dropAfter: dropAfter, handler)
        if let events = parsed?["events"]?.arrayValue {
            response.headers[Reply.seqsHeader] = events.compactMap { $0["seq"]?.integerValue }.map(String.init).joined(separator: ",")
        }
        return response
    }

    /// The rest of the preamble (a status fault, authentication, signature), then the handler.
    private func answer(
        _ route: RouteKind, _ request: Request, _ call: Call, real: Millis, dropAfter: Bool,
        _ handler: @Sendable (Call) async -> Response
    ) async throws -> Response {
        let (bridge, body, credentials) = (call.bridge, call.body, call.credentials)
        let status = store.withState { s in
            s.faults.take(now: real, bridge: bridge, route: route) { if case .status = $0 { true } else { false } }
        }
        if let status, case .status(let code, let retryAfter) = status.kind {
            var headers: HTTPFields = [Reply.faultHeader: "status"]
            if let retryAfter { headers[.retryAfter] = String(retryAfter) }
            return Reply.json(
                HTTPResponse.Status(code: code),
                ["error": "injected_fault", "message": .string("status \(code) injected through /admin/faults")],
                headers: headers)
        }

        guard let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer "),
            constantTimeEqual(Array(authorization.utf8.dropFirst(7)), Array(credentials.apiKey.utf8))
        else {
            let hint =
                request.headers[.authorization] == nil
                ? "Authorization header missing" : "Authorization: Bearer <api_key> does not match this bridge's key"
            return Reply.error(.unauthorized, "unauthorized", hint)
        }
        guard request.headers[Reply.bridgeIDHeader] == bridge else {
            let got = request.headers[Reply.bridgeIDHeader].map { "\"\($0)\"" } ?? "missing"
            return Reply.error(
                .unauthorized, "bridge_mismatch", "X-Bridge-Id is \(got) but the path names bridge \"\(bridge)\"")
        }
        let check = Signature.verify(
            header: request.headers[Reply.signatureHeader], body: body, secret: credentials.signingSecret,
            platformNowSeconds: Timestamp.floorDiv(store.now(), 1000))
        guard check == .valid else {
            return Reply.error(.unauthorized, "bad_signature", check.explanation)
        }

        let response = await handler(call)
        if dropAfter { throw ConnectionDrop(afterProcessing: true) }
        return response
    }

    // MARK: Events

    private func events(_ call: Call) -> Response {
        guard call.body.count <= Self.maxBatchBytes else {
            return Reply.error(
                .contentTooLarge, "batch_too_large",
                "events body is \(call.body.count) bytes; at most \(Self.maxBatchBytes) per request")
        }
        let parsed: JSONValue
        do {
            if let already = call.parsed { parsed = already } else { parsed = try JSONValue.parse(call.body) }
        } catch {
            return Reply.error(.badRequest, "invalid_body", error.description)
        }
        guard let batch = parsed["events"]?.arrayValue else {
            return Reply.error(.badRequest, "invalid_body", "expected {\"events\": [...]}")
        }
        guard batch.count <= Self.maxBatchEvents else {
            return Reply.error(
                .contentTooLarge, "too_many_events",
                "\(batch.count) events in one request; at most \(Self.maxBatchEvents)")
        }
        let types = Set(batch.compactMap { $0["type"]?.stringValue })
        let now = store.now()
        let real = store.realNow()
        return store.withState { s in
            if let refusal = s.faults.take(now: real, bridge: call.bridge, route: .events, where: { kind in
                if case .refuseBatch(let type, _) = kind { return types.contains(type) }
                return false
            }), case .refuseBatch(let type, let status) = refusal.kind {
                return Reply.json(
                    HTTPResponse.Status(code: status),
                    [
                        "error": "refused_by_test",
                        "message": .string("batch holds an event of type \(type), refused by a refuse_batch_with fault"),
                    ],
                    headers: [Reply.faultHeader: "refuse_batch_with"])
            }
            var faults = s.faults
            var record = s.bridges.removeValue(forKey: call.bridge)!
            var refusedByTest = false
            let answer = record.receive(events: batch, now: now) { type, seq in
                let hit = faults.take(now: real, bridge: call.bridge, route: .events) { kind in
                    guard case .rejectEvent(let wantType, let wantSeq) = kind else { return false }
                    return (wantType == nil || wantType == type) && (wantSeq == nil || wantSeq == seq)
                }
                if hit != nil { refusedByTest = true }
                return hit != nil
            }
            s.bridges[call.bridge] = record
            s.faults = faults
            return Reply.json(.ok, answer.json, headers: refusedByTest ? [Reply.faultHeader: "reject_event"] : [:])
        }
    }

    // MARK: Commands (long poll)

    private func commands(_ call: Call, _ uri: URI) async -> Response {
        let query = uri.queryParameters
        guard let start = CommandCursor.decode(query.get("cursor")) else {
            return Reply.error(.badRequest, "invalid_cursor", "cursor was not issued by this platform")
        }
        var waitS = Self.defaultWaitS
        if let text = query.get("wait") {
            guard let w = Double(text), w.isFinite, w >= 0 else {
                return Reply.error(.badRequest, "invalid_wait", "wait must be a number of seconds, 0 to 60")
            }
            waitS = min(w, Self.maxWaitS)
        }
        let deadline = store.realNow() + Millis(waitS * 1000)

        while true {
            let real = store.realNow()
            let batch = store.withState {
                s -> (commands: [PlatformCommand], position: Int, tampered: Bool, replacement: String?, faults: [String]) in
                guard let record = s.bridges[call.bridge] else { return ([], start, false, nil, []) }
                var (commands, position) = record.pending(after: start)
                var faults: [String] = []
                if let previous = record.command(at: min(start, record.commands.count)),
                    s.faults.take(now: real, bridge: call.bridge, route: .commands, where: { $0 == .duplicateCommand })
                        != nil
                {
                    commands.insert(previous, at: 0)
                    faults.append("duplicate_command")
                }
                var tampered = false
                var replacement: String? = nil
                if !commands.isEmpty {
                    s.bridges[call.bridge]!.markDelivered(upTo: position)
                    if let replace = s.faults.take(now: real, bridge: call.bridge, route: .commands, where: {
                        if case .replaceBody = $0 { true } else { false }
                    }), case .replaceBody(let body) = replace.kind {
                        replacement = body
                        faults.append("replace_body")
                    }
                    tampered =
                        s.faults.take(now: real, bridge: call.bridge, route: .commands, where: { $0 == .tamperSignature })
                        != nil
                    if tampered { faults.append("tamper_signature") }
                }
                return (commands, position, tampered, replacement, faults)
            }
            let remainingMs = deadline - store.realNow()
            if !batch.commands.isEmpty || remainingMs <= 0 || store.isShuttingDown {
                let body = batch.replacement.map { Array($0.utf8) } ?? Self.answerBody(batch.commands, position: batch.position)
                return signed(body, call: call, tampered: batch.tampered, faults: batch.faults)
            }
            await store.waitForCommands(bridge: call.bridge, timeout: .milliseconds(remainingMs))
            if store.isShuttingDown {
                return signed(Self.answerBody([], position: batch.position), call: call, tampered: false, faults: [])
            }
        }
    }

    /// `{"commands":[...],"cursor":"..."}`, assembled as bytes so that a raw command goes in exactly as given; for
    /// typed commands the bytes are those of the whole object serialised with sorted keys.
    static func answerBody(_ commands: [PlatformCommand], position: Int) -> [UInt8] {
        var bytes = Array(#"{"commands":["#.utf8)
        for (i, command) in commands.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += command.wire
        }
        bytes += Array(#"],"cursor":"#.utf8) + JSONValue.string(CommandCursor.encode(position)).bytes
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// A commands answer signed over its exact bytes with the bridge's secret.
    private func signed(_ bytes: [UInt8], call: Call, tampered: Bool, faults: [String]) -> Response {
        let t = Timestamp.floorDiv(store.now(), 1000)
        // A tampered signature is well formed but computed over other bytes, as a corrupted or forged one would be.
        let signed = tampered ? bytes + Array(" ".utf8) : bytes
        var headers: HTTPFields = [
            Reply.signatureHeader: Signature.header(secret: call.credentials.signingSecret, body: signed, unixSeconds: t)
        ]
        if !faults.isEmpty { headers[Reply.faultHeader] = faults.joined(separator: ",") }
        return Reply.bytes(.ok, bytes, headers: headers)
    }

    // MARK: Results and state

    private func result(_ call: Call, commandID: String) -> Response {
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(call.body)
        } catch {
            return Reply.error(.badRequest, "invalid_body", error.description)
        }
        if let problem = EventShape.checkResult(parsed) {
            return Reply.error(.badRequest, "invalid_result", problem)
        }
        let now = store.now()
        let outcome = store.withState { s in
            s.bridges[call.bridge]!.receiveResult(commandID: commandID, result: parsed, now: now)
        }
        switch outcome {
        case .stored, .duplicate:
            return Reply.noContent()
        case .unknownCommand:
            return Reply.error(
                .notFound, "unknown_command", "no command \"\(commandID)\" was issued to bridge \"\(call.bridge)\"")
        }
    }

    private func state(_ call: Call) -> Response {
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(call.body)
        } catch {
            return Reply.error(.badRequest, "invalid_body", error.description)
        }
        guard parsed.objectValue != nil else {
            return Reply.error(.badRequest, "invalid_state", "expected a JSON object, got \(parsed.typeName)")
        }
        let now = store.now()
        store.withState { s in s.bridges[call.bridge]!.putState(parsed, now: now) }
        return Reply.noContent()
    }
}

/// Compares two byte strings in time that depends only on their lengths.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in a.indices { diff |= a[i] ^ b[i] }
    return diff == 0
}

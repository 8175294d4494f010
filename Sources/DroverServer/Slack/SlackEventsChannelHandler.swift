import NIOCore
import NIOHTTP1

/// Serves `POST /slack/events` on the connection's event loop, ahead of Hummingbird's router;
/// every other request passes through to Hummingbird untouched. Slack's whole event stream
/// arrives on this route, and answering it here skips the router's hand-offs between the event
/// loop and Swift's task pool, which cost about a third of the CPU of each delivery
/// (`benchmarks/ingest`). It sits ahead of the conversion to Swift HTTP Types as well
/// (``EventsFirstHTTP1Channel``), which cost a further twentieth.
///
/// What the router gives other routes, it gives this one: the 64 KiB body limit (413, the rest
/// of the body dropped), errors as `{"error": {"message": …}}`, request metrics and debug logs,
/// `Date`, `Connection: close`; and, unlike the router, it answers HTTP/1.0 in HTTP/1.0, closing
/// the connection unless the client asked to keep it. Requests on one connection
/// are answered in order: while a delivery waits for its inbox write, or while Hummingbird still
/// owes responses, later requests are held until their turn, and reading pauses while any are.
/// Events and errors that follow a held request (the client closing its side, a parse error, the
/// server's graceful shutdown) are held with it, so that Hummingbird's connection handling sees
/// them only once every delivery before them is answered.
final class SlackEventsChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// Passing a request on to Hummingbird.
        case forwarding
        /// Reading a delivery's body.
        case collecting(HTTPRequestHead, ByteBuffer, started: ContinuousClock.Instant)
        /// Waiting for a delivery's answer.
        case answering
        /// The body was too large and the 413 is sent: the rest of the body is dropped.
        case discarding
    }

    /// What arrives from the connection, in order.
    private enum Inbound {
        case part(HTTPServerRequestPart)
        /// A user event: the input closed, the server shutting down gracefully, ….
        case event(Any)
        case error(any Error)
    }

    private let endpoint: SlackEventsEndpoint
    private let metrics: DroverMetrics
    private let dates: HTTPDateCache
    private var state = State.idle
    /// What arrived while an earlier request was not answered yet.
    private var held = CircularBuffer<Inbound>()
    /// Responses Hummingbird has yet to finish writing.
    private var responsesOwed = 0
    private var readHeld = false
    private var isActive = true

    init(endpoint: SlackEventsEndpoint, metrics: DroverMetrics, dates: HTTPDateCache) {
        self.endpoint = endpoint
        self.metrics = metrics
        self.dates = dates
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receive(.part(unwrapInboundIn(data)), context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        receive(.event(event), context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        receive(.error(error), context: context)
    }

    private func receive(_ inbound: Inbound, context: ChannelHandlerContext) {
        guard isActive else { return }
        if held.isEmpty && canTake(inbound) {
            take(inbound, context: context)
        } else {
            held.append(inbound)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        if case .end = unwrapOutboundIn(data) {
            // (Hummingbird also answers a parse error, for which no head was passed on.)
            responsesOwed = max(0, responsesOwed - 1)
            guard responsesOwed == 0, !held.isEmpty else { return }
            // Not from inside Hummingbird's write: held requests are taken on the next tick.
            let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            context.eventLoop.execute { loopBound.value.handler.takeHeld(context: loopBound.value.context) }
        }
    }

    /// Reading goes on while a delivery waits for its answer (a client that sends the next
    /// request only after an answer has none to send), and pauses once a request has to be held.
    func read(context: ChannelHandlerContext) {
        if held.isEmpty {
            context.read()
        } else {
            readHeld = true
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        context.fireChannelInactive()
    }

    /// Whether `inbound` may be handled now rather than held.
    private func canTake(_ inbound: Inbound) -> Bool {
        switch (state, inbound) {
        case (.answering, _): false
        case (.idle, .part(.head(let head))) where SlackEventsEndpoint.answers(head): responsesOwed == 0
        // Shutting down waits for a delivery being read; anything else about the connection
        // (its input closed mid-body, a parse error) ends that delivery.
        case (.collecting, .event(let event)): !(event is ChannelShouldQuiesceEvent)
        default: true
        }
    }

    private func take(_ inbound: Inbound, context: ChannelHandlerContext) {
        switch inbound {
        case .part(let part): take(part, context: context)
        case .event(let event): context.fireUserInboundEventTriggered(event)
        case .error(let error): context.fireErrorCaught(error)
        }
    }

    private func take(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch (state, part) {
        case (.idle, .head(let head)) where SlackEventsEndpoint.answers(head):
            // As the router's requests are logged (`LogRequestsMiddleware`).
            endpoint.logger.debug("Request", metadata: ["hb.request.path": "\(head.uri)", "hb.request.method": "\(head.method.rawValue)"])
            state = .collecting(head, context.channel.allocator.buffer(capacity: 0), started: .now)
        case (.idle, .head):
            responsesOwed += 1
            state = .forwarding
            context.fireChannelRead(wrapInboundOut(part))
        case (.forwarding, _):
            if case .end = part { state = .idle }
            context.fireChannelRead(wrapInboundOut(part))
        case (.collecting(let head, var body, let started), .body(var chunk)):
            guard body.readableBytes + chunk.readableBytes <= DroverRequestContext.maxBodySize else {
                let message = ErrorMessageMiddleware<DroverRequestContext>.message(for: .contentTooLarge)
                return send(.error(.contentTooLarge, message), for: head, started: started, then: .discarding, context: context)
            }
            body.writeBuffer(&chunk)
            state = .collecting(head, body, started: started)
        case (.collecting(let head, let body, let started), .end):
            state = .answering
            let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            endpoint.answer(head, body: body) { reply in
                loopBound.eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.send(reply, for: head, started: started, then: .idle, context: context)
                }
            }
        case (.discarding, .end):
            state = .idle
        default:
            // The rest of a refused body is dropped. (A head while collecting: the decoder never
            // produces one.)
            break
        }
    }

    /// Writes `reply`, then goes on in state `next`, or closes the connection if the request
    /// asked for that.
    private func send(_ reply: SlackEventsReply, for head: HTTPRequestHead, started: ContinuousClock.Instant, then next: State, context: ChannelHandlerContext) {
        metrics.request(route: SlackEventsEndpoint.path, status: Int(reply.status.code), duration: .now - started)
        guard isActive else { return }
        let closing = !head.isKeepAlive
        state = next
        var headers: HTTPHeaders = ["Server": "Drover", "Date": dates.now, "Content-Length": String(reply.body.count)]
        if let contentType = reply.contentType { headers.add(name: "Content-Type", value: contentType) }
        if closing {
            headers.add(name: "Connection", value: "close")
        } else if head.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let status = HTTPResponseStatus(statusCode: Int(reply.status.code))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if !reply.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: reply.body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if closing {
            isActive = false
            context.close(promise: nil)
        } else {
            takeHeld(context: context)
        }
    }

    /// Handles what was held until something has to wait again; then lets reading go on if it may.
    private func takeHeld(context: ChannelHandlerContext) {
        guard isActive else { return }
        guard !held.isEmpty else { return resumeReading(context: context) }
        while let next = held.first, canTake(next) {
            take(held.removeFirst(), context: context)
        }
        // Hummingbird takes what it was passed when a read completes.
        context.fireChannelReadComplete()
        resumeReading(context: context)
    }

    private func resumeReading(context: ChannelHandlerContext) {
        if readHeld && held.isEmpty {
            readHeld = false
            context.read()
        }
    }
}

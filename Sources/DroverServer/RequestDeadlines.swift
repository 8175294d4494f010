import DroverStore
import Logging
import NIOCore
import HTTPTypes
import NIOHTTPTypes

/// The HTTP edge's guards for a connection, between HTTP parsing and the router; together with
/// Hummingbird's idle timeout, which closes a connection that sends no complete request head in
/// time (a keep-alive connection left idle, or a head that never ends).
///
/// - **Read deadline:** a request whose body has not ended `readTimeout` after its head is
///   refused: the connection is closed (a client trickling its body would hold it forever).
/// - **Refused early, then closed:** when the answer is sent before the request's body was read
///   to its end (413, 401, 415, …), the connection goes on reading and dropping the rest of the
///   body — so that a client that writes its whole body before reading gets the answer instead of
///   a stalled write — and closes once the body ends, or after at most `lingerLimit` more bytes
///   or `readTimeout`. Keep-alive goes on for requests answered after their body.
final class RequestDeadlines: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The most body bytes read and dropped after an early answer before the connection closes.
    static let lingerLimit = 16 << 20

    private let readTimeout: TimeAmount
    private let logger: Logger
    /// Whether a request's head has been read and its end not yet.
    private var readingBody = false
    /// Set when an answer starts before its request's end: it says `Connection: close`, and the
    /// connection closes once it is sent.
    private var closesAfterAnswer = false
    /// Set once such an answer is sent and the body still has not ended: everything read is dropped.
    private var discarding = false
    private var discarded = 0
    private var deadline: Scheduled<Void>?

    init(readTimeout: Duration, logger: Logger) {
        self.readTimeout = .nanoseconds(readTimeout.nanoseconds)
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if discarding {
            if case .body(let buffer) = part { discarded += buffer.readableBytes }
            if case .end = part { return context.close(promise: nil) }
            if discarded > Self.lingerLimit { context.close(promise: nil) }
            return
        }
        switch part {
        case .head:
            readingBody = true
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: readTimeout) { [logger] in
                logger.notice("closing a connection whose request was not read in time")
                context.close(promise: nil)
            }
        case .body:
            break
        case .end:
            readingBody = false
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // The router no longer asks for reads once it answered; the rest of the body is read here.
        if discarding { context.read() } else { context.fireChannelReadComplete() }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response) where readingBody:
            // Answered before the body ended: the client is told that the connection will close.
            closesAfterAnswer = true
            response.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end where closesAfterAnswer:
            context.writeAndFlush(data, promise: promise)
            guard readingBody else { return context.close(promise: nil) }
            // Nothing more goes out; the rest of the body is read and dropped, then the connection closes.
            discarding = true
            context.close(mode: .output, promise: nil)
            context.read()
        default:
            context.write(data, promise: promise)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }
}

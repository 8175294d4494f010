import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1.1 channel with a ``SlackEventsChannelHandler`` placed right after the
/// HTTP/1.1 codec, ahead of the conversion to Swift HTTP Types: Slack's deliveries are read and
/// answered in SwiftNIO's own types, and only the requests passed on to Hummingbird are
/// converted. (Hummingbird's `additionalChannelHandlers` come after that conversion.)
struct EventsFirstHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let http1: HTTP1Channel
    let makeEventsHandler: @Sendable () -> SlackEventsChannelHandler

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(makeEventsHandler(), position: .before(pipeline.handler(type: HTTP1ToHTTPServerCodec.self)))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with Slack's event deliveries answered ahead of the router.
    static func http1(answeringSlackEventsWith makeEventsHandler: @escaping @Sendable () -> SlackEventsChannelHandler) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            EventsFirstHTTP1Channel(http1: HTTP1Channel(responder: responder), makeEventsHandler: makeEventsHandler)
        }
    }
}

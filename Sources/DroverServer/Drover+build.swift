import DroverCore
import DroverDataset
import DroverGenerators
import DroverOxen
import DroverSlack
import DroverStore
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// Builds the whole of `drover serve`: the ledger, the dataset, the inbox worker and committer
/// services and the HTTP routes, wired into one application.
/// - Parameter onServerRunning: called once the server listens, with its channel (whose local
///   address has the port when `DROVER_PORT` is 0).
/// - Throws: if the data directory, the ledger or the dataset repository cannot be opened.
public func buildApplication(
    _ configuration: DroverConfiguration, logger: Logger, onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    try await buildApplication(configuration, logger: logger, digestClock: SystemDigestClock(), onServerRunning: onServerRunning)
}

/// ``buildApplication(_:logger:onServerRunning:)`` with the clock the Slack digest is scheduled by.
func buildApplication(
    _ configuration: DroverConfiguration, logger: Logger, digestClock: any DigestClock,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
    let ledger = try Ledger(path: configuration.ledgerPath)
    let inbox = Inbox(ledger: ledger)
    let repository = try await DatasetRepository.open(at: configuration.datasetDirectory)
    let salt = try RaterSalt.load(configured: configuration.raterSalt, dataDirectory: configuration.dataDirectory)
    let pseudonymizer = RaterPseudonymizer(salt: salt, scheme: configuration.raterScheme)

    let metrics = DroverMetrics()
    let committerDoorbell = Doorbell()
    let pusher = configuration.datasetRemote.map { DatasetPusher(directory: configuration.datasetDirectory, remote: $0, logger: logger) }
    let oxen = configuration.oxen.map {
        OxenMirror(settings: $0, ledger: ledger, datasetDirectory: configuration.datasetDirectory, logger: logger)
    }
    let votesDoorbell = Doorbell()
    let generationsDoorbell = Doorbell()
    let committer = Committer(
        ledger: ledger, repository: repository, doorbell: committerDoorbell,
        gatherWindow: configuration.commitGatherWindow, afterCommit: [pusher?.doorbell, oxen?.doorbell].compactMap { $0 }, metricsFactory: metrics.factory, logger: logger
    )
    let generation = GenerationService(
        versions: configuration.generator.versions.map { .init(settings: $0, generator: makeGenerator($0.backend, timeout: configuration.generator.timeout)) },
        assignmentSecret: salt, ledger: ledger, committerDoorbell: committerDoorbell, timeout: configuration.generator.timeout,
        limiter: GenerationLimiter(concurrency: configuration.generator.concurrency, queueLimit: configuration.generator.queueLimit),
        metrics: metrics
    )

    let slack = configuration.slack.map {
        SlackWebClient(token: $0.botToken, baseURL: $0.apiURL, metricsFactory: metrics.factory, logger: logger)
    }
    var generationHandlers: [any InboxHandler] = []
    if let slack {
        generationHandlers += [
            SlashCommandHandler(generation: generation, ledger: ledger, slack: slack, pseudonymizer: pseudonymizer, logger: logger),
            SharedFileHandler(
                ledger: ledger, slack: slack, committerDoorbell: committerDoorbell, pseudonymizer: pseudonymizer,
                modelVersion: configuration.modelVersion, logger: logger
            ),
        ]
        if let digest = configuration.slack?.digest {
            generationHandlers.append(DigestHandler(ledger: ledger, slack: slack, settings: digest, publicURL: configuration.publicURL, logger: logger))
        }
    }
    let announcer = VoteAnnouncer(
        metrics: metrics, committerDoorbell: committerDoorbell, tallies: slack.map { TallyUpdater(ledger: ledger, slack: $0, logger: logger) }
    )
    let votes = VoteLane(inbox: inbox, ledger: ledger, pseudonymizer: pseudonymizer, announcer: announcer, logger: logger)
    // Votes and generations have a worker each, so that a vote never waits behind a generation.
    var services: [any Service] = [
        committer, InboxWorker(inbox: inbox, doorbell: votesDoorbell, lane: votes, drainsOnShutdown: true, logger: logger),
        InboxPruner(inbox: inbox, logger: logger),
    ]
    services += pusher.map { [$0] } ?? []
    services += oxen.map { [$0] } ?? []
    if let digest = configuration.slack?.digest {
        services.append(DigestService(schedule: digest.schedule, inbox: inbox, doorbell: generationsDoorbell, clock: digestClock, logger: logger))
    }
    if !generationHandlers.isEmpty {
        let lane = HandlerLane(inbox: inbox, handlers: generationHandlers, logger: logger)
        services.append(InboxWorker(inbox: inbox, doorbell: generationsDoorbell, lane: lane, drainsOnShutdown: false, logger: logger))
    }

    let router = Router(context: DroverRequestContext.self)
    router.add(middleware: LogRequestsMiddleware(.debug))
    router.add(middleware: ErrorMessageMiddleware())
    router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
    MetricsController(metrics: metrics, inbox: inbox, committer: committer).addRoutes(to: router)
    try DashboardController().addRoutes(to: router, logger: logger)
    HealthController(inbox: inbox, committer: committer, generation: generation, pusher: pusher, oxen: oxen).addRoutes(to: router)
    StatsController(ledger: ledger).addRoutes(to: router)
    DashboardAPIController(
        ledger: ledger, inbox: inbox, committerDoorbell: committerDoorbell, dataset: DatasetHistory(directory: configuration.datasetDirectory), pusher: pusher
    ).addRoutes(to: router)
    APIController(
        ledger: ledger, inbox: inbox, inboxDoorbell: votesDoorbell, generation: generation, pseudonymizer: pseudonymizer,
        dataset: DatasetHistory(directory: configuration.datasetDirectory)
    ).addRoutes(to: router)
    if let settings = configuration.slack {
        let intake = SlackIntake(
            inbox: inbox, votesDoorbell: votesDoorbell,
            generationsDoorbell: generationsDoorbell, slashCommand: settings.slashCommand, listenBotUser: settings.listenBotUser,
            maxQueuedCommands: settings.maxQueuedCommands,
            stats: StatsAnswer(
                ledger: ledger, versionsWithTraffic: configuration.generator.versions.filter { $0.weight > 0 }.map(\.name),
                publicURL: configuration.publicURL
            )
        )
        if let signingSecret = settings.signingSecret {
            SlackController(signature: SlackSignature(signingSecret: signingSecret), intake: intake).addRoutes(to: router)
        }
        if let appToken = settings.appToken {
            services.append(SocketModeClient(
                appToken: appToken, apiURL: settings.apiURL, pingInterval: settings.socketPingInterval, logger: logger
            ) { envelope in
                try await intake.receive(envelope)
            })
        }
    }

    return Application(
        router: router,
        server: .http1(configuration: .init(
            additionalChannelHandlers: [RequestDeadlines(readTimeout: configuration.readTimeout, logger: logger)],
            idleTimeout: .nanoseconds(configuration.idleTimeout.nanoseconds)
        )),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Drover"),
        services: services,
        onServerRunning: onServerRunning,
        logger: logger
    )
}

/// The generator for a version's backend.
/// - Parameter timeout: how long a request may take; a backend's own HTTP deadline is only a
///   backstop past it, since GenerationService's timeout, which also counts the wait for a turn,
///   answers the requester first.
public func makeGenerator(_ backend: GeneratorSettings.Backend, timeout: Duration) -> any ImageGenerator {
    let backstop = timeout + .seconds(5)
    return switch backend {
    case .procedural:
        ProceduralGenerator()
    case .openai(let endpoint):
        OpenAIImagesGenerator(url: endpoint.url, model: endpoint.model, apiKey: endpoint.apiKey, timeout: backstop)
    case .automatic1111(let endpoint):
        Automatic1111Generator(url: endpoint.url, model: endpoint.model, apiKey: endpoint.apiKey, timeout: backstop)
    }
}

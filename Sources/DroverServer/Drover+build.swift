import DroverCore
import DroverDataset
import DroverGenerators
import DroverStore
import Foundation
import Hummingbird
import Logging

/// Builds the whole of `drover serve`: the ledger, the dataset, the inbox worker and committer
/// services and the HTTP routes, wired into one application.
/// - Throws: if the data directory, the ledger or the dataset repository cannot be opened.
public func buildApplication(_ configuration: DroverConfiguration, logger: Logger) async throws -> some ApplicationProtocol {
    try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
    let ledger = try Ledger(path: configuration.ledgerPath)
    let inbox = Inbox(ledger: ledger)
    let repository = try await DatasetRepository.open(at: configuration.datasetDirectory)
    let salt = try RaterSalt.load(configured: configuration.raterSalt, dataDirectory: configuration.dataDirectory)
    let pseudonymizer = RaterPseudonymizer(salt: salt, scheme: configuration.raterScheme)
    let generator = makeGenerator(configuration)

    let committerDoorbell = Doorbell()
    let inboxDoorbell = Doorbell()
    let committer = Committer(
        ledger: ledger, repository: repository, doorbell: committerDoorbell,
        gatherWindow: configuration.commitGatherWindow, logger: logger
    )
    let worker = InboxWorker(
        inbox: inbox, doorbell: inboxDoorbell,
        handlers: [VoteHandler(ledger: ledger, committerDoorbell: committerDoorbell)],
        logger: logger
    )
    let generation = GenerationService(
        generator: generator, ledger: ledger, committerDoorbell: committerDoorbell,
        modelVersion: configuration.modelVersion, timeout: .seconds(120)
    )

    let router = Router(context: DroverRequestContext.self)
    router.add(middleware: LogRequestsMiddleware(.debug))
    router.add(middleware: ErrorMessageMiddleware())
    DashboardController().addRoutes(to: router)
    HealthController(inbox: inbox, committer: committer, generator: generator).addRoutes(to: router)
    APIController(
        ledger: ledger, inbox: inbox, inboxDoorbell: inboxDoorbell, generation: generation, pseudonymizer: pseudonymizer,
        dataset: DatasetHistory(directory: configuration.datasetDirectory)
    ).addRoutes(to: router)

    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Drover"),
        services: [committer, worker],
        logger: logger
    )
}

func makeGenerator(_ configuration: DroverConfiguration) -> any ImageGenerator {
    switch configuration.generator {
    case .procedural: ProceduralGenerator()
    }
}

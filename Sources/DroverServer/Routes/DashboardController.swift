import Foundation
import Hummingbird
import Logging

/// The dashboard: one page (`GET /`) that shows images, votes, charts and the dataset's history.
/// Its HTML, CSS, script and icons are the package's resources (`Sources/DroverServer/Resources`),
/// served under `/dashboard/…` and fetched from nowhere else; every figure on it comes from the
/// JSON API.
struct DashboardController {
    /// The folder holding the dashboard's files.
    let directory: String

    /// Finds the dashboard's files among the package's resources.
    /// - Throws: if they are missing (a `drover` binary copied away from its resource bundle).
    init() throws {
        guard let url = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw DashboardFilesMissing(bundle: Bundle.module.bundlePath)
        }
        directory = url.path
    }

    func addRoutes(to router: Router<DroverRequestContext>, logger: Logger) throws {
        let page = try file("index.html"), icon = try file("favicon.svg")
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"], body: .init(byteBuffer: page))
        }
        router.get("/favicon.ico") { _, _ in
            Response(status: .ok, headers: [.contentType: "image/svg+xml", .cacheControl: "public, max-age=86400"], body: .init(byteBuffer: icon))
        }
        // Every other file, revalidated by its ETag so that a new build's files are picked up.
        router.group("/dashboard")
            .add(middleware: FileMiddleware(directory, urlBasePath: "/dashboard", cacheControl: .init([(MediaType(type: .any), [.noCache])]), logger: logger))
            .get("**") { _, _ -> Response in throw HTTPError(.notFound, message: "no such dashboard file") }
    }

    private func file(_ name: String) throws -> ByteBuffer {
        ByteBuffer(bytes: try Data(contentsOf: URL(filePath: directory).appending(path: name)))
    }
}

/// The dashboard's files are not beside the `drover` binary.
struct DashboardFilesMissing: Error, CustomStringConvertible {
    var bundle: String
    var description: String { "the dashboard's files are missing from \(bundle): keep drover's resource bundle beside the binary" }
}

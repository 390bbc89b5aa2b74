import Foundation
import KeysealCore
import XCTest

/// The name rebuild requests (and a shared store) give a repository: its remote URL normalised,
/// never with the credentials a URL may carry.
final class RepositoryNameTests: XCTestCase {
    func testRemoteURLsOfOneRepositoryNormaliseToOneName() {
        // Credentials put together at run time: no URL with a password is committed.
        let password = ["hun", "ter2"].joined()
        let forms = [
            "git@github.com:team/app.git",
            "ssh://git@github.com/team/app",
            "https://github.com/team/app.git",
            "https://GitHub.com/team/app/",
            "https://ci-bot:" + password + "@github.com/team/app.git",
            "https://x-access-token:p@" + password + "@github.com/team/app.git?ref=x#frag",
            "git://github.com/team/app.git",
        ]
        for form in forms {
            XCTAssertEqual(RepositoryName.normalise(remoteURL: form), "github.com/team/app", form)
        }
        XCTAssertEqual(RepositoryName.normalise(remoteURL: "ssh://git@git.example.test:2222/a/b.git"), "git.example.test:2222/a/b")
        XCTAssertEqual(RepositoryName.normalise(remoteURL: "/srv/git/app.git"), "/srv/git/app")
        XCTAssertEqual(RepositoryName.normalise(remoteURL: "file:///srv/git/app.git/"), "/srv/git/app")
        XCTAssertNil(RepositoryName.normalise(remoteURL: "  "))
        XCTAssertNil(RepositoryName.normalise(remoteURL: "https://"))
    }

    /// `rebuild` sends the normalised remote URL, not the folder's name, and no password from it.
    func testRebuildRequestsNameTheRemoteNotTheFolder() throws {
        let repo = try TestRepository()
        try repo.write("config/prod.env", "STRIPE_KEY=\(FakeSecret.stripe("reponame"))\n")
        try repo.commit("add prod config")
        try repo.git(["tag", "v1.0"])
        let password = "pw" + String(repeating: "7", count: 12)
        try repo.git(["remote", "add", "origin", "https://deploy:\(password)@Git.Example.test/team/app.git"])
        let out = try KeysealBinary.run(["rebuild", "--out", "requests.json"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        let data = try Data(contentsOf: repo.url.appendingPathComponent("requests.json"))
        XCTAssertNil(data.range(of: Data(password.utf8)), "the remote's password must not reach a request")
        let requests = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        XCTAssertEqual(requests.compactMap { $0["repository"] as? String }, ["git.example.test/team/app"])
        XCTAssertFalse(out.stdout.contains(password) || out.stderr.contains(password))
    }

    /// Without a remote, the folder's name, as before.
    func testRebuildWithoutARemoteUsesTheFolderName() throws {
        let repo = try TestRepository()
        try repo.write("prod.env", "STRIPE_KEY=\(FakeSecret.stripe("noremote"))\n")
        try repo.commit("leak")
        try repo.git(["tag", "v2"])
        let out = try KeysealBinary.run(["rebuild", "--out", "requests.json"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        let data = try Data(contentsOf: repo.url.appendingPathComponent("requests.json"))
        let requests = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        XCTAssertEqual(requests.compactMap { $0["repository"] as? String }, [repo.url.standardizedFileURL.lastPathComponent])
    }

    /// A repository another user owns (a mounted checkout in a container) is refused by libgit2 as
    /// by git; keyseal says so and how to trust it, instead of "not a git repository".
    func testARepositoryOwnedByAnotherUserGetsTheSafeDirectoryAdvice() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root to give the repository to another user") }
        let repo = try TestRepository()
        try repo.write("a.txt", "a\n")
        try repo.commit("a")
        XCTAssertEqual(chown(repo.url.path, 4242, 4242), 0)
        XCTAssertEqual(chown(repo.url.appendingPathComponent(".git").path, 4242, 4242), 0)
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let out = try KeysealBinary.run(["scan", "--no-store", repo.url.path], in: home, environment: ["HOME": home.path])
        XCTAssertEqual(out.status, 2, out.stderr)
        XCTAssertTrue(out.stderr.contains("owned by another user") && out.stderr.contains("safe.directory"), out.stderr)
    }
}

import Foundation
import XCTest

/// keyseal under the pre-commit framework (https://pre-commit.com), which runs hooks its own way:
/// it reads git's pre-push lines itself and passes a range in the environment (none when the push
/// holds a root commit), and passes file names instead of a commit's changes (`--all-files`). The
/// hooks must not pass what they did not scan. The framework's contract is exercised directly
/// (its environment variables and arguments), and through the real `pre-commit` tool when it is
/// installed.
final class PreCommitFrameworkTests: XCTestCase {
    var remotes: [TestRepository] = []

    /// A new repository whose first commit holds a token, with an empty bare remote `origin`.
    func newRepositoryWithALeak() throws -> TestRepository {
        let repo = try TestRepository()
        try repo.write("config.env", "GITHUB_TOKEN=\(FakeSecret.github("first-push"))\n")
        try repo.commit("first")
        let remote = try TestRepository(bare: true)
        remotes.append(remote)
        try repo.git(["remote", "add", "origin", remote.path])
        return repo
    }

    /// The environment pre-commit gives a pre-push hook when the push holds a root commit: the
    /// remote and branches, and no FROM/TO range.
    func rangeless(_ repo: TestRepository) -> [String: String] {
        ["PRE_COMMIT": "1", "PRE_COMMIT_REMOTE_NAME": "origin", "PRE_COMMIT_REMOTE_URL": "file://remote",
         "PRE_COMMIT_LOCAL_BRANCH": "refs/heads/main", "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/main"]
    }

    func testAFirstPushWithoutARangeScansEveryCommitTheRemoteLacks() throws {
        let repo = try newRepositoryWithALeak()
        let out = try KeysealBinary.run(["pre-push", "origin", "file://remote"], in: repo.url, environment: rangeless(repo))
        XCTAssertEqual(out.status, 1, "the token in the root commit blocks the first push: \(out.stdout)\(out.stderr)")
        XCTAssertTrue(out.stderr.contains("config.env"), out.stderr)

        // Once the remote holds that history, only what it lacks is new: a clean commit passes.
        try repo.git(["push", "-q", "origin", "main"])
        try repo.write("README.md", "hello\n")
        try repo.commit("docs")
        let next = try KeysealBinary.run(["pre-push", "origin", "file://remote"], in: repo.url, environment: rangeless(repo))
        XCTAssertEqual(next.status, 0, next.stderr)
    }

    func testFileNamesAreScannedWholeNotOnlyTheirNewLines() throws {
        let repo = try TestRepository()
        try repo.write("config.env", "STRIPE_KEY=\(FakeSecret.stripe("all-files"))\n")
        try repo.write("notes.txt", "nothing here\n")
        try repo.commit("already committed")
        // Nothing is staged: the commit's own check passes, a run over the files does not.
        XCTAssertEqual(try KeysealBinary.run(["staged"], in: repo.url).status, 0)
        let all = try KeysealBinary.run(["staged", "--files", "config.env", "notes.txt"], in: repo.url)
        XCTAssertEqual(all.status, 1, all.stdout + all.stderr)
        XCTAssertTrue(all.stderr.contains("config.env"), all.stderr)
        XCTAssertEqual(try KeysealBinary.run(["staged", "--files", "./notes.txt"], in: repo.url).status, 0)
        // A file the index does not hold cannot be scanned: refused, and said why.
        try Data("x\n".utf8).write(to: repo.url.appendingPathComponent("untracked.txt"))
        let untracked = try KeysealBinary.run(["staged", "--files", "untracked.txt"], in: repo.url)
        XCTAssertEqual(untracked.status, 1, untracked.stderr)
        XCTAssertTrue(untracked.stderr.contains("untracked.txt"), untracked.stderr)
        XCTAssertTrue(untracked.stderr.contains("not in the index"), untracked.stderr)
    }

    /// The same through the real tool: `pre-commit run --all-files` and a first push with
    /// `pre-commit install --hook-type pre-push`, using this repository's .pre-commit-hooks.yaml
    /// (as a `repo: local` copy, so no network is needed to fetch it).
    func testThroughTheRealPreCommitTool() throws {
        let probe = try TestRepository.capture("/usr/bin/env", ["pre-commit", "--version"], in: FileManager.default.temporaryDirectory)
        guard probe.status == 0 else {
            throw XCTSkip("the pre-commit tool is not installed (pip install pre-commit); the contract is tested directly above")
        }
        let hooksFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".pre-commit-hooks.yaml")
        let hooks = try String(contentsOf: hooksFile, encoding: .utf8)
        let binDirectory = URL(fileURLWithPath: KeysealBinary.path).deletingLastPathComponent().path
        let environment = ["PATH": binDirectory + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]

        let repo = try newRepositoryWithALeak()
        let indented = hooks.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { "    " + $0 }.joined(separator: "\n")
        try repo.write(".pre-commit-config.yaml", "repos:\n- repo: local\n  hooks:\n" + indented + "\n")
        try repo.commit("pre-commit config")
        let all = try TestRepository.capture("/usr/bin/env", ["pre-commit", "run", "--all-files", "--hook-stage", "pre-commit"],
                                             in: repo.url, environment: environment)
        XCTAssertNotEqual(all.status, 0, "--all-files finds the committed token: \(all.stdout)\(all.stderr)")

        let install = try TestRepository.capture("/usr/bin/env", ["pre-commit", "install", "--hook-type", "pre-push"],
                                                 in: repo.url, environment: environment)
        XCTAssertEqual(install.status, 0, install.stdout + install.stderr)
        let push = try TestRepository.capture("/usr/bin/env", ["git", "push", "-q", "origin", "main"], in: repo.url, environment: environment)
        XCTAssertNotEqual(push.status, 0, "the first push, root commit included, is refused: \(push.stdout)\(push.stderr)")
        XCTAssertTrue((push.stdout + push.stderr).contains("config.env"), push.stdout + push.stderr)
    }
}

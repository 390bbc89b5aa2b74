import Foundation
@testable import KeysealCore
import XCTest

/// A scan builds its findings once: the report gets the values the store was given, whether or not
/// there is a store, and the audit at its end is the one `keyseal audit` gives.
final class OnePathTests: XCTestCase {
    func scan(_ repo: TestRepository, store: StoreChoice, showSecrets: Bool = false) throws -> ScanResult {
        try HistoryScan.scan(ScanOptions(path: repo.path, threads: 2, showSecrets: showSecrets, store: store, audit: true))
    }

    /// Findings without the triage status (only a scan with a store, or a baseline, sets it).
    func plain(_ findings: [Finding]) -> [Finding] { findings.map { var f = $0; f.status = nil; return f } }

    func testDefaultAndNoStoreScansReportTheSameFindingsAlsoIncrementally() throws {
        let repo = try TestRepository()
        try repo.write("app.env", "TOKEN=\(FakeSecret.github("one"))\nKEY=\(FakeSecret.stripe("one"))\n")
        try repo.commit("first")
        try repo.write("copy.env", "TOKEN=\(FakeSecret.github("one"))\n")
        try repo.commit("copy")
        let first = try scan(repo, store: .inRepository)
        XCTAssertEqual(first.findings.count, 3)
        XCTAssertEqual(first.findings, plain(first.findings).map { $0.with(status: .open) })
        XCTAssertEqual(plain(first.findings), try scan(repo, store: .none).findings)

        try repo.write("new.env", "TOKEN=\(FakeSecret.github("two"))\n")
        try repo.commit("more")
        let incremental = try scan(repo, store: .inRepository)
        XCTAssertTrue(incremental.summary.notes.contains { $0.hasPrefix("incremental") }, "\(incremental.summary.notes)")
        XCTAssertEqual(incremental.summary.commits, 1)
        let none = try scan(repo, store: .none)
        XCTAssertEqual(plain(incremental.findings), none.findings)
        XCTAssertEqual(incremental.findings.count, 4)

        // Clear values: this scan's from its own matches, earlier scans' read again from their blobs.
        let shown = try scan(repo, store: .inRepository, showSecrets: true)
        XCTAssertEqual(plain(shown.findings), try scan(repo, store: .none, showSecrets: true).findings)
        XCTAssertTrue(shown.findings.allSatisfy { $0.secret != nil })
    }

    func testTheScansAuditIsTheAuditCommands() throws {
        let repo = try TestRepository()
        try repo.write(".env", "TOKEN=\(FakeSecret.github("env"))\n")
        try repo.write("Dockerfile", "FROM alpine\nENV API_KEY=\(FakeSecret.stripe("docker"))\nCOPY . /app\n")
        try repo.commit("routes")
        let audit = try XCTUnwrap(try scan(repo, store: .none).audit)
        let alone = try Auditor.audit(path: repo.path, revision: nil, configFile: nil)
        XCTAssertFalse(audit.findings.isEmpty)
        XCTAssertEqual(try JSONOutput.encode(audit), try JSONOutput.encode(alone))
        XCTAssertTrue(audit.findings.contains { $0.contentRule != nil }, "the content rules ran with the scan's matcher")
    }
}

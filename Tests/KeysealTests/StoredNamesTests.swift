import XCTest

@testable import KeysealCore

/// Names an org-wide rebuild reads from a shared store (written by many runners) are checked before
/// they reach a webhook's body or a command's arguments; dates that do not parse are never shown as text.
final class StoredNamesTests: XCTestCase {
    func testOnlyNamesGitAndRepositoriesCouldHavePass() {
        for good in ["refs/tags/v1.2.3", "refs/tags/release/2024-05", "refs/tags/ünï"] { XCTAssertTrue(StoredNames.isTagRef(good), good) }
        for bad in ["refs/tags/", "refs/tags/a..b", "refs/tags/a b", "refs/tags/-x", "refs/tags/x.lock", "refs/tags/.x", "refs/tags/a\u{7}",
                    "refs/tags/a:b", "refs/tags/x/", "refs/tags/a@{1}", "refs/heads/main", "refs/tags/a//b"] {
            XCTAssertFalse(StoredNames.isTagRef(bad), bad)
        }
        for good in ["github.com/team/app", "git.example/a_b-c.d"] { XCTAssertTrue(StoredNames.isRepositoryName(good), good) }
        for bad in ["", "-x", "a/../b", "a b", "a\nb", "../x", "a/./b", "a\u{85}b"] { XCTAssertFalse(StoredNames.isRepositoryName(bad), bad) }
        XCTAssertTrue(StoredNames.isCommitID(String(repeating: "a", count: 40)))
        XCTAssertTrue(StoredNames.isCommitID(String(repeating: "0", count: 64)))
        for bad in ["", String(repeating: "g", count: 40), String(repeating: "A", count: 40), "abc"] { XCTAssertFalse(StoredNames.isCommitID(bad), bad) }
    }

    func testADateThatDoesNotParseIsNeverShownAsText() {
        let crafted = "<a href=//x>click</a>"
        XCTAssertEqual(ChecklistRenderer.humanTime(crafted), "an unknown time")
        XCTAssertEqual(ChecklistRenderer.day(crafted), "unknown date")
        XCTAssertEqual(ChecklistRenderer.humanTime("2024-05-01T12:00:00+02:00"), "2024-05-01 10:00 UTC")
    }
}

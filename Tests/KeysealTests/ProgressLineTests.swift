import Foundation
@testable import KeysealCore
import KeysealGit
import XCTest

/// The progress line shows totals, a percentage, MiB (one unit convention) and an estimate.
final class ProgressLineTests: XCTestCase {
    func testWalkThenScanWithTotalsPercentageRateAndEstimate() {
        let progress = ScanProgress()
        var started: Date?
        var bytesAtStart = 0
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        XCTAssertEqual(ProgressDisplay.line(progress: progress, now: t0, scanStarted: &started, bytesAtScanStart: &bytesAtStart),
                       "keyseal: listing commits…")
        progress.commitsTotal.store(400, ordering: .relaxed)
        progress.commitsWalked.store(100, ordering: .relaxed)
        XCTAssertEqual(ProgressDisplay.line(progress: progress, now: t0, scanStarted: &started, bytesAtScanStart: &bytesAtStart),
                       "keyseal: walking history: 100/400 commits (25%)")
        progress.blobsTotal.store(1000, ordering: .relaxed)
        let first = ProgressDisplay.line(progress: progress, now: t0, scanStarted: &started, bytesAtScanStart: &bytesAtStart)
        XCTAssertEqual(first, "keyseal: scanning blobs: 0/1000 (0%), 0.0 MiB at 0.0 MiB/s")
        progress.blobsDone.store(250, ordering: .relaxed)
        progress.bytesDone.store(20 << 20, ordering: .relaxed)
        let later = ProgressDisplay.line(progress: progress, now: t0 + 10, scanStarted: &started, bytesAtScanStart: &bytesAtStart)
        XCTAssertEqual(later, "keyseal: scanning blobs: 250/1000 (25%), 20.0 MiB at 2.0 MiB/s, about 30 s left")
        XCTAssertFalse(later.contains("MB/s"), "one unit convention: MiB")
    }

    func testDurations() {
        XCTAssertEqual(ProgressDisplay.duration(42), "42 s")
        XCTAssertEqual(ProgressDisplay.duration(185), "3 min 05 s")
        XCTAssertEqual(ProgressDisplay.duration(3720), "1 h 02 min")
    }
}

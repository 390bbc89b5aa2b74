import Foundation
import KeysealGit

/// Redraws one status line on stderr while a scan runs, only when stderr is a terminal: the walk's
/// commits, then the blobs read and scanned, each with its total, percentage, and (for the blobs,
/// which take the time) the rate in MiB/s and an estimate of the time left.
public final class ProgressDisplay: @unchecked Sendable {
    private let progress: ScanProgress
    private let timer: DispatchSourceTimer
    /// When the blob total became known: the rate and the estimate count from there, not from the walk.
    private var scanStarted: Date?
    private var bytesAtScanStart = 0

    public static var wanted: Bool { isatty(STDERR_FILENO) == 1 }

    public init(progress: ScanProgress) {
        self.progress = progress
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "keyseal.progress"))
        timer.schedule(deadline: .now() + 0.5, repeating: 0.25)
        timer.setEventHandler { [weak self] in self?.draw() }
        timer.resume()
    }

    private func draw() {
        let line = "\r\u{1B}[K" + Self.line(progress: progress, now: Date(), scanStarted: &scanStarted, bytesAtScanStart: &bytesAtScanStart)
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// The status text for the counters as they stand (no control characters).
    static func line(progress: ScanProgress, now: Date, scanStarted: inout Date?, bytesAtScanStart: inout Int) -> String {
        let walked = progress.commitsWalked.load(ordering: .relaxed)
        let commits = progress.commitsTotal.load(ordering: .relaxed)
        let blobs = progress.blobsTotal.load(ordering: .relaxed)
        let done = progress.blobsDone.load(ordering: .relaxed)
        let bytes = progress.bytesDone.load(ordering: .relaxed)
        guard blobs > 0 else {
            if commits == 0 { return "keyseal: listing commits…" }
            return "keyseal: walking history: \(walked)/\(commits) commits (\(percent(walked, of: commits)))"
        }
        if scanStarted == nil {
            scanStarted = now
            bytesAtScanStart = bytes
        }
        let elapsed = max(now.timeIntervalSince(scanStarted ?? now), 0.001)
        let rate = Double(bytes - bytesAtScanStart) / 1_048_576 / elapsed
        var text = "keyseal: scanning blobs: \(min(done, blobs))/\(blobs) (\(percent(done, of: blobs))), "
            + String(format: "%.1f MiB at %.1f MiB/s", Double(bytes) / 1_048_576, rate)
        // An estimate from the blob count: blob sizes vary, so it is shown only after a few seconds.
        if elapsed >= 3, done > 0, done < blobs {
            text += ", about " + duration(elapsed * Double(blobs - done) / Double(done)) + " left"
        }
        return text
    }

    static func percent(_ part: Int, of whole: Int) -> String {
        whole > 0 ? "\(min(100, part * 100 / whole))%" : "0%"
    }

    /// `42 s`, `3 min 05 s`, `1 h 02 min`.
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total) s" }
        if total < 3600 { return String(format: "%d min %02d s", total / 60, total % 60) }
        return String(format: "%d h %02d min", total / 3600, (total % 3600) / 60)
    }

    public func stop() {
        timer.cancel()
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

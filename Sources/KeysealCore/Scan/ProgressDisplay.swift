import Foundation
import KeysealGit

/// Redraws one status line on stderr while a scan runs, only when stderr is a terminal.
public final class ProgressDisplay: @unchecked Sendable {
    private let progress: ScanProgress
    private let timer: DispatchSourceTimer
    private let started = Date()

    public static var wanted: Bool { isatty(STDERR_FILENO) == 1 }

    public init(progress: ScanProgress) {
        self.progress = progress
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "keyseal.progress"))
        timer.schedule(deadline: .now() + 0.5, repeating: 0.25)
        timer.setEventHandler { [weak self] in self?.draw() }
        timer.resume()
    }

    private func draw() {
        let seconds = max(Date().timeIntervalSince(started), 0.001)
        let bytes = progress.bytesDone.load(ordering: .relaxed)
        let line = String(format: "\r\u{1B}[Kkeyseal: %d commits walked, %d blobs scanned, %.0f MB/s",
                          progress.commitsWalked.load(ordering: .relaxed), progress.blobsDone.load(ordering: .relaxed),
                          Double(bytes) / 1_000_000 / seconds)
        FileHandle.standardError.write(Data(line.utf8))
    }

    public func stop() {
        timer.cancel()
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

import Synchronization

/// Counters a progress display reads while the scan runs.
public final class ScanProgress: Sendable {
    public let commitsWalked = Atomic<Int>(0)
    public let blobsDone = Atomic<Int>(0)
    public let bytesDone = Atomic<Int>(0)
    public init() {}
}

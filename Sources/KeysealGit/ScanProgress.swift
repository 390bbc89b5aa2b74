import Synchronization

/// Counters a progress display reads while the scan runs. A total of 0 means not known yet: the
/// commit total once the walk has listed the commits, the blob total once the walk is done.
public final class ScanProgress: Sendable {
    public let commitsWalked = Atomic<Int>(0)
    public let commitsTotal = Atomic<Int>(0)
    public let blobsDone = Atomic<Int>(0)
    public let blobsTotal = Atomic<Int>(0)
    public let bytesDone = Atomic<Int>(0)
    public init() {}
}

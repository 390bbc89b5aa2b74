import Foundation
import KeysealEngine
import KeysealStore

/// What `HistoryScan.scan` scans, and how.
public struct ScanOptions: Sendable {
    public var path: String
    /// Scan only commits not reachable from this revision.
    public var sinceCommit: String?
    public var threads: Int
    /// Nil: the config's `max_blob_size`, else 25 MiB.
    public var maxBlobSize: Int?
    public var showSecrets: Bool
    /// Keep libgit2's re-hash of every object read (slower; for suspect repositories).
    public var verifyHashes: Bool
    /// Nil: `.keyseal.toml` at the work tree's root, when there is one.
    public var configFile: String?
    /// Where the compiled rules are cached; nil compiles every time.
    public var cacheDirectory: URL?
    /// Where findings are recorded.
    public var store: StoreChoice
    /// Walk and scan everything again, whatever the store has.
    public var full: Bool
    /// Also audit HEAD (routes into history and images).
    public var audit: Bool
    /// Blobs not fully scanned (too large, an archive read in part, a regex limit) fail the scan.
    public var failOnUnscanned: Bool

    // Test seams, package access: only the test scanner (Tests/KeysealTestScan) sets them; the
    // keyseal executable never does, and no environment variable reaches them.
    /// Blobs per store transaction: work survives a kill in steps of this size. nil: a quarter of the
    /// blobs to read, at least 4,096 (each transaction rewrites the index pages its random ids land
    /// on, so many small ones write the index many times over: eight made 22,400 writes in a redis
    /// scan, four 13,100).
    package var chunkSize: Int? = nil
    /// Called after each chunk is recorded in the store, with the number recorded so far (a test
    /// kills its own process here to check that an interrupted scan is repaired).
    package var afterChunk: (@Sendable (Int) -> Void)? = nil
    /// Seams in the store's write transactions (see `WriteHooks`).
    package var storeHooks = WriteHooks()
    /// Scans each revision stored as a delta against its base (false: every blob in full, as the
    /// reference the delta scans are compared with). bench/ uses `KEYSEAL_DELTA=0` for the same.
    package var deltaScans = true

    public init(path: String, sinceCommit: String? = nil, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                maxBlobSize: Int? = nil, showSecrets: Bool = false, verifyHashes: Bool = false,
                configFile: String? = nil, cacheDirectory: URL? = Matcher.defaultCacheDirectory,
                store: StoreChoice = .none, full: Bool = false, audit: Bool = false, failOnUnscanned: Bool = false) {
        self.audit = audit
        self.failOnUnscanned = failOnUnscanned
        self.store = store
        self.full = full
        self.path = path
        self.sinceCommit = sinceCommit
        self.threads = threads
        self.maxBlobSize = maxBlobSize
        self.showSecrets = showSecrets
        self.verifyHashes = verifyHashes
        self.configFile = configFile
        self.cacheDirectory = cacheDirectory
    }
}

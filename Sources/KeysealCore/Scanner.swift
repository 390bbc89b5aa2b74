import Foundation
import KeysealEngine
import KeysealGit
import Synchronization

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

    public init(path: String, sinceCommit: String? = nil, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                maxBlobSize: Int? = nil, showSecrets: Bool = false, verifyHashes: Bool = false,
                configFile: String? = nil, cacheDirectory: URL? = Matcher.defaultCacheDirectory) {
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

/// A scan that could not be done; the message says why and, where it can, what to do.
public struct ScanError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The matches one blob produced.
struct BlobMatches {
    let blob: Int
    let matches: [EngineMatch]
}

/// One scanning thread's state: its engine scratch and what it found.
/// Confined to its thread until `finish` hands it over, after which only the caller reads it.
final class ScanWorker: @unchecked Sendable {
    let scratch: Matcher.Scratch
    var found: [BlobMatches] = []
    var scanned = 0, bytes = 0, binary = 0, large = 0
    init(scratch: Matcher.Scratch) { self.scratch = scratch }
}

public enum Scanner {
    /// NUL within the first 8 KiB marks a binary blob, as git itself decides.
    static let binaryProbe = 8000

    public static func scan(_ options: ScanOptions, progress: ScanProgress? = nil) throws -> ScanResult {
        let started = Date()
        let repository: Repository
        do {
            try Repository.configureReading(verifyHashes: options.verifyHashes)
            repository = try Repository(discovering: options.path)
        } catch let error as GitError {
            throw ScanError(error.message)
        }
        let settings = try Settings.load(workDirectory: repository.workDirectory, configFile: options.configFile,
                                         maxBlobSize: options.maxBlobSize)
        var summary = ScanSummary()
        summary.notes += settings.config.warnings
        let ruleInfo = settings.rules.map { RuleInfo(id: $0.id, provider: $0.provider, description: $0.description) }

        let (tips, _) = try wrap { try repository.tips() }
        summary.refs = tips.count
        if tips.isEmpty {
            summary.notes.append("the repository has no commits yet: nothing to scan")
            return ScanResult(summary: summary, findings: [], rules: ruleInfo)
        }
        var hide: [ObjectID] = []
        if let since = options.sinceCommit {
            do {
                hide = [try repository.resolveCommit(since)]
            } catch let error as GitError {
                throw ScanError("--since-commit: \(error.message)")
            }
        }
        let history = try wrap {
            try HistoryWalker.index(repository: repository, range: HistoryRange(tips: tips, hide: hide),
                                    threads: options.threads, progress: progress)
        }
        summary.commits = history.commits.count
        trace("walked \(history.commits.count) commits, \(history.blobs.count) unique blobs", since: started)
        summary.gitlinksSkipped = history.gitlinks
        if !history.shallowBoundary.isEmpty {
            summary.notes.append(
                "shallow clone: history before \(history.shallowBoundary.count) boundary commit(s) is not in this clone and was not scanned (\(history.shallowBoundary.prefix(3).map { String($0.hex.prefix(12)) }.joined(separator: ", ")))")
        }

        let matcher = try settings.matcher(cacheDirectory: options.cacheDirectory)
        let collected = Mutex<[ScanWorker]>([])
        try wrap {
            try BlobReader.read(
                history.blobs, repository: repository, threads: options.threads, maxSize: settings.maxBlobSize,
                makeWorker: { ScanWorker(scratch: try matcher.makeScratch()) },
                body: { worker, index, content in
                    switch content {
                    case .tooLarge:
                        worker.large += 1
                    case .bytes(let bytes):
                        let probe = UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, binaryProbe)])
                        if !probe.isEmpty, memchr(probe.baseAddress!, 0, probe.count) != nil {
                            worker.binary += 1
                        } else {
                            worker.scanned += 1
                            worker.bytes += bytes.count
                            let matches = try matcher.scan(bytes, scratch: worker.scratch)
                            if !matches.isEmpty { worker.found.append(BlobMatches(blob: index, matches: matches)) }
                        }
                        progress?.bytesDone.add(bytes.count, ordering: .relaxed)
                    }
                    progress?.blobsDone.add(1, ordering: .relaxed)
                },
                finish: { worker in
                    let done = worker
                    collected.withLock { $0.append(done) }
                })
        }
        trace("read and scanned blobs", since: started)
        var found: [BlobMatches] = []
        for worker in collected.withLock({ $0 }) {
            summary.blobsScanned += worker.scanned
            summary.bytesScanned += worker.bytes
            summary.blobsSkippedBinary += worker.binary
            summary.blobsSkippedLarge += worker.large
            found += worker.found
        }
        let findings = try wrap {
            try FindingBuilder(repository: repository, history: history, rules: settings.rules, settings: settings,
                               showSecrets: options.showSecrets).findings(from: found)
        }
        summary.findings = findings.count
        summary.secrets = Set(findings.map(\.fingerprint)).count
        summary.durationSeconds = Date().timeIntervalSince(started)
        return ScanResult(summary: summary, findings: findings, rules: ruleInfo)
    }

    /// Phase timings on stderr when KEYSEAL_TRACE is set (for bench/ and profiling).
    static let tracing = ProcessInfo.processInfo.environment["KEYSEAL_TRACE"] != nil
    static func trace(_ what: String, since start: Date) {
        guard tracing else { return }
        FileHandle.standardError.write(Data(String(format: "[%.3f s] %@\n", Date().timeIntervalSince(start), what).utf8))
    }

    /// Turns git-layer errors into scan errors whose message names the object or function.
    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as GitError {
            throw ScanError(error.description)
        } catch let error as EngineError {
            throw ScanError(error.message)
        }
    }
}

/// Joins the engine's matches with where their blobs stand in history.
struct FindingBuilder {
    let repository: Repository
    let history: HistoryIndex
    let rules: [Rule]
    let settings: Settings
    let showSecrets: Bool

    func findings(from found: [BlobMatches]) throws -> [Finding] {
        var authors: [Int32: Signature] = [:]
        var out: [Finding] = []
        for entry in found.sorted(by: { $0.blob < $1.blob }) {
            let fingerprints = SecretText.fingerprints(entry.matches, rules: rules)
            for placement in history.placements[entry.blob] {
                let commit = history.commits[Int(placement.commit)]
                let author: Signature
                if let known = authors[placement.commit] {
                    author = known
                } else {
                    author = try repository.author(of: commit.id)
                    authors[placement.commit] = author
                }
                let path = String(decoding: history.paths[Int(placement.path)], as: UTF8.self)
                for (k, match) in entry.matches.enumerated()
                where !settings.allows(path: path, commit: commit.id.hex, secret: match.secret) {
                    out.append(Finding(rule: rules[match.rule], match: match, fingerprint: fingerprints[k],
                                       pairedWith: match.pairedWith.map { fingerprints[$0] }, commit: commit.id.hex,
                                       author: author, path: path, blob: history.blobs[entry.blob].hex,
                                       showSecret: showSecrets))
                }
            }
        }
        // Group by secret, the secret first seen first; inside a group, oldest first.
        var firstSeen: [String: String] = [:]
        for finding in out where (firstSeen[finding.fingerprint] ?? "\u{10FFFF}") > finding.date {
            firstSeen[finding.fingerprint] = finding.date
        }
        return out.sorted {
            let a = firstSeen[$0.fingerprint]!, b = firstSeen[$1.fingerprint]!  // Safe: filled for every finding above.
            if $0.fingerprint != $1.fingerprint { return a != b ? a < b : $0.fingerprint < $1.fingerprint }
            return ($0.date, $0.path, $0.line, $0.column) < ($1.date, $1.path, $1.line, $1.column)
        }
    }

    static func iso8601(_ signature: Signature) -> String {
        let offset = Int(signature.offsetMinutes)
        let date = Date(timeIntervalSince1970: TimeInterval(signature.time))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: offset * 60)
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
        return formatter.string(from: date)
    }
}

import Foundation
import KeysealEngine
import KeysealGit
import KeysealStore
import Synchronization

/// The matches one blob produced, with their fingerprints (derived on the scanning thread: the slow
/// ones of guessable secrets are the costly part, so they run on every core).
struct BlobMatches {
    let blob: Int
    let matches: [EngineMatch]
    let prints: [SecretPrint]
}

/// One scanning thread's state: its engine scratch and what it found.
/// Confined to its thread until `finish` hands it over, after which only the caller reads it.
final class ScanWorker: @unchecked Sendable {
    let scratch: Matcher.Scratch
    var found: [BlobMatches] = []
    var scanned = 0, bytes = 0, binary = 0, archives = 0, truncated = 0, large = 0, missing = 0, regexLimited = 0, decodedInPart = 0
    var regexLimitHits: [String: Int] = [:]
    /// Inflates deltas' instructions (its stream and buffers reused from blob to blob).
    let deltaReader = PackDeltas.Reader()
    /// The delta blob the rebuild step took its base's record for but left to libgit2 to read.
    var taken: (index: Int, hits: RecordedHits?)?
    /// Blobs not fully scanned: index, reasons, the rules a regex limit stopped, size when too large.
    var unscanned: [(blob: Int, reasons: [UnscannedReason], rules: [String], size: Int?)] = []
    /// How much of `found` and `unscanned` has gone to the store's recorder.
    var foundHanded = 0, unscannedHanded = 0
    init(scratch: Matcher.Scratch) { self.scratch = scratch }
}

public enum HistoryScan {
    public static func scan(_ options: ScanOptions, progress: ScanProgress? = nil) throws -> ScanResult {
        try scan(options, repository: try Repository.open(options.path, verifyHashes: options.verifyHashes), progress: progress)
    }

    /// A scan of a repository the caller has opened (the checklist and rebuild planner go on to use
    /// it), with the settings it has loaded when it needs them too.
    static func scan(_ options: ScanOptions, repository: Repository, settings loaded: Settings? = nil,
                     progress: ScanProgress? = nil) throws -> ScanResult {
        let started = Date()
        let settings = try loaded ?? Settings.load(workDirectory: repository.workDirectory, configFile: options.configFile,
                                                   maxBlobSize: options.maxBlobSize)
        var summary = ScanSummary()
        summary.notes += settings.config.warnings
        let ruleInfo = settings.rules.map(RuleInfo.init)

        let (tips, _) = try repository.tips()
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
                throw KeysealError.revision(option: "--since-commit", error)
            }
        }
        let baseline = try Baseline.entries(workDirectory: repository.workDirectory)
        trace("settings and baseline read", since: started)
        let store = try StoreSession.open(options.store, repository: repository, rules: settings.rules,
                                          allowlistHash: settings.config.secretAllowlistHash, range: options.sinceCommit.map { "since \($0)" } ?? "all refs",
                                          baseline: baseline, hooks: options.storeHooks)
        if store != nil { trace("store: opened", since: started) }
        do {
            let result = try scan(options, repository: repository, settings: settings, tips: tips, hide: hide,
                                  store: store, baseline: baseline, summary: summary, ruleInfo: ruleInfo,
                                  started: started, progress: progress)
            return result
        } catch {
            store?.fail()
            throw error
        }
    }

    private static func scan(_ options: ScanOptions, repository: Repository, settings: Settings, tips: [RefTip],
                             hide: [ObjectID], store: StoreSession?, baseline: [String: Baseline.Entry], summary initial: ScanSummary,
                             ruleInfo: [RuleInfo],
                             started: Date, progress: ScanProgress?) throws -> ScanResult {
        var summary = initial
        // With a store, a full-history scan walks only commits it has not walked under these rules.
        // --fail-on-unscanned walks all history, so the blobs not fully scanned before (which the
        // store does not record as scanned) are found, read and counted again.
        let incremental = store != nil && options.sinceCommit == nil && !options.full && !options.failOnUnscanned
        let known = incremental ? try store!.knownCommits(in: repository) : []
        let history = try HistoryWalker.index(repository: repository, range: HistoryRange(tips: tips, hide: hide, known: known),
                                              threads: options.threads, readPacks: !options.verifyHashes, progress: progress,
                                              trace: tracing ? { trace($0, since: started) } : nil)
        summary.commits = history.commits.count
        summary.commitsFromStore = known.count
        summary.gitlinksSkipped = history.gitlinks
        if history.repeatedSubtrees > 0 {
            summary.notes.append(
                "\(history.repeatedSubtrees) subtree(s) repeated more than \(HistoryIndex.maxSubtreeRepeats) times within one commit (a tree bomb?) were not expanded again: their files were scanned, and are reported at their first \(HistoryIndex.maxSubtreeRepeats) paths")
        }
        if !known.isEmpty {
            summary.notes.append("incremental: \(known.count) commit(s) scanned before were not walked again (--full rescans everything)")
        }
        trace("walked \(history.commits.count) commits, \(history.blobs.count) unique blobs", since: started)
        if !history.shallowBoundary.isEmpty {
            summary.notes.append(
                "shallow clone: history before \(history.shallowBoundary.count) boundary commit(s) is not in this clone and was not scanned (\(history.shallowBoundary.prefix(3).map { String($0.hex.prefix(12)) }.joined(separator: ", "))); fetch all of it first: git fetch --unshallow (GitHub Actions: actions/checkout with fetch-depth: 0; GitLab CI: GIT_DEPTH: 0)")
        }

        // Blobs the store has scanned under these rules are not read again (unless their secrets
        // must be shown, which needs the bytes).
        let cachedIDs = options.full ? [] : try store?.scannedBlobs(among: history.blobs.map(\.hex)) ?? []
        var cachedMatches: [String: [StoredMatch]] = [:]
        var toRead: [Int] = []
        if cachedIDs.isEmpty {
            toRead = Array(history.blobs.indices)
        } else {
            var cachedHere = Set<String>()
            for (index, blob) in history.blobs.enumerated() {
                if cachedIDs.contains(blob.hex) { cachedHere.insert(blob.hex) } else { toRead.append(index) }
            }
            cachedMatches = try store!.matches(of: cachedHere)
            summary.blobsFromStore = options.showSecrets ? 0 : cachedHere.count
            if options.showSecrets {
                for (index, blob) in history.blobs.enumerated() where cachedMatches[blob.hex] != nil {
                    toRead.append(index)
                    cachedMatches[blob.hex] = nil
                }
            }
        }

        if store != nil { trace("store: \(cachedIDs.count) blob(s) scanned before", since: started) }
        let matcher = try settings.matcher(cacheDirectory: options.cacheDirectory, deltaScans: options.deltaScans && DeltaScanning.enabled && toRead.count >= DeltaScanning.minimumBlobs)
        trace("rules ready: \(matcher.rules.count), database \(matcher.loadedFromCache ? "from the cache" : "compiled")\(matcher.deltaSummary.map { "; delta scans: " + $0 } ?? "")", since: started)
        // Each revision stored as a delta of another is scanned against it: what the delta inserted,
        // with the base's hits carried over the bytes it copies (same matches as a full scan). Its
        // reading of the pack indexes gives the read order too.
        let deltas = matcher.scansDeltas
            ? DeltaScanning(blobs: history.blobs, reading: toRead, repository: repository, rebuilding: !options.verifyHashes) : nil
        let order: [Int]
        if let deltas {
            order = deltas.order
        } else {
            let subset = Set(toRead)
            order = BlobReader.packOrder(history.blobs, repository: repository).filter { subset.contains($0) }
        }
        if let deltas { trace("pack deltas read: \(deltas.deltas.base.lazy.filter { $0 >= 0 }.count) blobs are deltas of another", since: started) }
        progress?.blobsTotal.store(order.count, ordering: .relaxed)
        var found: [BlobMatches] = []
        var unscanned: [(blob: Int, reasons: [UnscannedReason], rules: [String], size: Int?)] = []
        let recorder = store.map {
            ChunkRecorder($0, history: history, rules: matcher.rules,
                          sizing: options.chunkSize.map(ChunkRecorder.Sizing.fixed)
                              ?? .shrinking(chunk: max(4096, (order.count + 3) / 4), total: order.count, floor: 512),
                          afterChunk: options.afterChunk)
        }
        // A scan that fails waits for the chunk being recorded before the store hears of the failure.
        defer { _ = try? recorder?.drain() }
        let collected = Mutex<[ScanWorker]>([])
        try BlobReader.read(
            history.blobs, order: order, repository: repository, threads: options.threads, maxSize: settings.maxBlobSize,
            makeWorker: { ScanWorker(scratch: try matcher.makeScratch()) },
            // Each delta takes its base's record here; it is rebuilt from the base's bytes rather
            // than read through libgit2, except where every object read must be checked against
            // its id (libgit2 checks what it reads).
            rebuild: deltas.map { deltas in
                { worker, index, lastChance in
                    try rebuildBlob(&worker, index, lastChance: lastChance, deltas: deltas, maxSize: settings.maxBlobSize,
                                    matcher: matcher, allowlist: settings.allowlist, progress: progress)
                }
            },
            // Rebuilding: large enough that most deltas share a batch, so a thread, with their
            // base (redis.git: 1,050 of 29,092 deltas missed theirs at 128, 2,000 at 32).
            batch: deltas?.rebuilding == true ? 128 : 32,
            body: { worker, index, content in
                try scanBlob(&worker, index, content, matcher: matcher, allowlist: settings.allowlist, deltas: deltas,
                             progress: progress)
            },
            // A blob not fully scanned is not recorded as scanned: a later scan reads (and counts) it again.
            afterBatch: recorder.map { recorder in
                { worker, batch in
                    try recorder.add(batch, found: worker.found[worker.foundHanded...],
                                     incomplete: worker.unscanned[worker.unscannedHanded...].lazy.map(\.blob))
                    (worker.foundHanded, worker.unscannedHanded) = (worker.found.count, worker.unscanned.count)
                }
            },
            finish: { worker in
                let done = worker
                collected.withLock { $0.append(done) }
            })
        let workers = collected.withLock { $0 }
        for worker in workers {
            summary.blobsScanned += worker.scanned
            summary.bytesScanned += worker.bytes
            summary.blobsBinary += worker.binary
            summary.archives += worker.archives
            summary.archivesTruncated += worker.truncated
            summary.blobsSkippedLarge += worker.large
            summary.blobsMissing += worker.missing
            summary.blobsRegexLimit += worker.regexLimited
            summary.blobsDecodedInPart += worker.decodedInPart
            summary.regexLimitHits.merge(worker.regexLimitHits, uniquingKeysWith: +)
            unscanned += worker.unscanned
            found += worker.found
        }
        try recorder?.finish()
        if let deltas { for worker in workers { deltas.count(worker.scratch) } }
        trace("read and scanned \(order.count) blobs; \(SecretText.derivations.load(ordering: .relaxed)) slow fingerprint(s) derived\(store == nil ? "" : String(format: "; %.3f s (CPU %.3f s) recording them in the store, beside the scan, %.3f s waited for at its end", recorder?.seconds ?? 0, recorder?.cpuSeconds ?? 0, recorder?.tailSeconds ?? 0))", since: started)
        if let deltas { trace(deltas.summary, since: started) }
        (summary.blobsNotFullyScanned, summary.notFullyScanned) = placed(unscanned, history: history, allowlist: settings.allowlist)

        let builder = FindingBuilder(repository: repository, history: history, rules: settings.rules, settings: settings,
                                     showSecrets: options.showSecrets)
        var findings = try builder.findings(from: found)
        findings += try builder.findings(fromCached: cachedMatches, secrets: store?.secretsByFingerprint() ?? [:])
        trace("attributed: \(findings.count) finding(s)", since: started)
        if let store {
            try store.finish(findings: findings, history: history, counts: summary,
                             completeWalk: options.sinceCommit == nil && known.isEmpty)
            trace("store: scan finished", since: started)
            if options.sinceCommit == nil {
                // The report covers all history: what earlier scans recorded as well as what this one
                // found (the very findings just recorded, not copies read back).
                findings = try store.allFindings(own: findings, settings: settings)
                if options.showSecrets {
                    let known = Dictionary(findings.compactMap { f in f.secret.map { (f.fingerprint, $0) } }, uniquingKeysWith: { a, _ in a })
                    let earlier = findings.filter { $0.secret == nil }
                    let clear = known.merging(try clearValues(of: earlier, known: known, repository: repository, matcher: matcher),
                                              uniquingKeysWith: { a, _ in a })
                    findings = findings.map { $0.secret == nil ? $0.with(secret: clear[$0.fingerprint]) : $0 }
                }
            }
        }
        let statuses = Decisions.merge(store: try store?.statuses() ?? [:], baseline: baseline.mapValues(\.status))
        if store != nil || !statuses.isEmpty {
            // Secrets met in this run also answer to their legacy fingerprints (stores and baselines
            // written before guessable secrets were fingerprinted slowly).
            var legacy: [String: String] = [:]
            for entry in found { for print in entry.prints { if let old = print.legacy { legacy[print.fingerprint] = old } } }
            let notes = Decisions.notes(store: try store?.secretsByFingerprint() ?? [:], baseline: baseline)
            findings = findings.map {
                let old = legacy[$0.fingerprint]
                var decided = $0.with(status: Decisions.status(of: $0.fingerprint, legacy: old, in: statuses) ?? .open)
                if decided.status != .open { decided.triageNote = notes[$0.fingerprint] ?? old.flatMap { notes[$0] } }
                return decided
            }
        }
        findings = try placedInHead(findings, repository: repository)
        // A shallow clone (CI's default checkout) sees part of the history and few refs: its view
        // would replace the repository's whole summary, and org-wide rebuilds would lose their tags.
        if let store, options.sinceCommit == nil, !repository.isShallow {
            try store.recordSummary(of: findings, repository: repository)
        }
        findings = FindingBuilder.ordered(findings)
        summary.findings = findings.count
        summary.secrets = Set(findings.map(\.fingerprint)).count
        var audit: AuditResult? = nil
        if options.audit && options.sinceCommit == nil {
            // The scan's repository, settings and compiled rules serve its audit too.
            audit = try Auditor.audit(repository: repository, settings: settings, revision: nil, matcher: matcher)
        }
        summary.durationSeconds = Date().timeIntervalSince(started)
        trace("done (store, triage, HEAD placement\(audit == nil ? "" : ", audit"))", since: started)
        var result = ScanResult(summary: summary, findings: findings, rules: ruleInfo, audit: audit)
        result.failOnUnscanned = options.failOnUnscanned
        result.blobsScannedAsDeltas = deltas?.scannedAsDeltas ?? 0
        result.blobsRebuiltFromDeltas = deltas?.rebuiltFromDeltas ?? 0
        return result
    }

    /// Marks each finding with whether HEAD's tree holds its blob at its path: reports must not
    /// point at the lines of a later version of the file for a secret that is only in history.
    /// A member of an archive (`outer.zip!inner/file`) is in HEAD when the archive is.
    static func placedInHead(_ findings: [Finding], repository: Repository) throws -> [Finding] {
        var known: [String: Bool] = [:]
        return try findings.map { finding in
            let key = finding.blob + "\u{0}" + finding.path
            if let inHead = known[key] {
                var placed = finding
                placed.inHead = inHead
                return placed
            }
            var inHead = false
            if let blob = ObjectID(hex: finding.blob) {
                // The path itself, else (for an archive member) each prefix before a `!`.
                var candidates = [finding.path]
                var prefix = Substring(finding.path)
                while let bang = prefix.lastIndex(of: "!") {
                    prefix = prefix[..<bang]
                    candidates.append(String(prefix))
                }
                for path in candidates where try repository.headHas(blob: blob, at: path) {
                    inHead = true
                    break
                }
            }
            known[key] = inHead
            var placed = finding
            placed.inHead = inHead
            return placed
        }
    }

    /// The blobs not fully scanned, each at a path (and commit) the allowlist does not allow; a
    /// blob whose every place is allowed is left out. Returns the count and the first
    /// `UnscannedBlob.listed` by path.
    static func placed(_ unscanned: [(blob: Int, reasons: [UnscannedReason], rules: [String], size: Int?)],
                       history: HistoryIndex, allowlist: Allowlist) -> (Int, [UnscannedBlob]) {
        var out: [UnscannedBlob] = []
        for entry in unscanned {
            let place = history.placements[entry.blob].first { placement in
                let path = String(decoding: history.paths[Int(placement.path)], as: UTF8.self)
                return !allowlist.allowsPlace(path: path, commit: history.commits[Int(placement.commit)].id.hex)
            }
            guard let place else { continue }
            out.append(UnscannedBlob(path: String(decoding: history.paths[Int(place.path)], as: UTF8.self),
                                     commit: history.commits[Int(place.commit)].id.hex, blob: history.blobs[entry.blob].hex,
                                     reasons: entry.reasons, rules: entry.rules.isEmpty ? nil : entry.rules.sorted(),
                                     size: entry.size))
        }
        out.sort { ($0.path, $0.commit) < ($1.path, $1.commit) }
        return (out.count, Array(out.prefix(UnscannedBlob.listed)))
    }

    /// `--show-secrets` over recorded findings: the store keeps no values, so the blobs that hold
    /// them are read again (only those).
    private static func clearValues(of findings: [Finding], known: [String: String], repository: Repository,
                                    matcher: Matcher) throws -> [String: String] {
        var clear: [String: String] = [:]
        let scratch = try matcher.makeScratch()
        let blobs = Set(findings.filter { known[$0.fingerprint] == nil }.map(\.blob))
        for hex in blobs {
            guard let id = ObjectID(hex: hex) else { continue }
            let matches = try repository.withBlob(id) { try matcher.scan($0, scratch: scratch) }
            for (k, secret) in try SecretText.identify(matches, rules: matcher.rules).enumerated() {
                clear[secret.fingerprint] = String(decoding: matches[k].secret, as: UTF8.self)
            }
        }
        return clear
    }

    /// Blob `index` rebuilt from its base's bytes and its delta, and scanned (`.done`); `.read` when
    /// libgit2 must read it (no delta, not rebuilding, its base's bytes not kept, too large, a delta
    /// that does not hold together); `.later` when its base is still being read by another thread,
    /// unless this is its last chance. Each delta takes its base's record here, once; what libgit2
    /// is left to read keeps it in `worker.taken`.
    private static func rebuildBlob(_ worker: inout ScanWorker, _ index: Int, lastChance: Bool, deltas: DeltaScanning,
                                    maxSize: Int, matcher: Matcher, allowlist: Allowlist,
                                    progress: ScanProgress?) throws -> RebuildStep {
        worker.taken = nil
        if deltas.rebuilding && !lastChance && deltas.baseInProgress(of: index) { return .later }
        guard let taken = deltas.take(index) else {
            // Not a delta of a blob the scan reads: stored whole, it is read from its pack here.
            if deltas.rebuilding, try deltas.deltas.readWhole(index, maxLength: maxSize, reader: worker.deltaReader, { bytes in
                try scanBlob(&worker, index, .bytes(bytes), matcher: matcher, allowlist: allowlist, deltas: deltas, progress: progress)
            }) != nil {
                return .done
            }
            return .read
        }
        if deltas.rebuilding, let content = taken.content {
            let done: Void? = try content.withUnsafeBytes { base in
                try deltas.deltas.rebuild(index, base: base, maxLength: maxSize, reader: worker.deltaReader) { bytes, copies in
                    try scanBlob(&worker, index, .bytes(bytes), matcher: matcher, allowlist: allowlist, deltas: deltas,
                                 progress: progress, rebuilt: true, deltaBase: { taken.hits.map { DeltaScanning.base($0, copies) } })
                }
            }
            if done != nil { return .done }
        }
        worker.taken = (index, taken.hits)
        return .read
    }

    private static func scanBlob(_ worker: inout ScanWorker, _ index: Int, _ content: BlobContent, matcher: Matcher,
                                 allowlist: Allowlist, deltas: DeltaScanning?, progress: ScanProgress?,
                                 rebuilt: Bool = false, deltaBase: (() -> DeltaBase?)? = nil) throws {
        switch content {
        case .tooLarge(let size):
            deltas?.skipped(index)
            worker.large += 1
            worker.unscanned.append((index, [.tooLarge], [], size))
        case .missing:
            deltas?.skipped(index)
            worker.missing += 1
            worker.unscanned.append((index, [.missing], [], nil))
        case .bytes(let bytes):
            worker.scanned += 1
            worker.bytes += bytes.count
            let scan: BlobScan
            if let deltas {
                let base: DeltaBase?
                if let deltaBase {
                    base = deltaBase()
                } else if let taken = worker.taken, taken.index == index {
                    worker.taken = nil
                    base = taken.hits.flatMap { deltas.base(hits: $0, of: index, targetLength: bytes.count, reader: worker.deltaReader) }
                } else {
                    base = nil  // no delta of a blob the scan reads
                }
                scan = try matcher.scanBlob(bytes, scratch: worker.scratch, delta: base, record: deltas.isBase(index))
                deltas.scanned(index, recorded: scan.recorded, content: bytes, asDelta: base != nil, rebuilt: rebuilt)
            } else {
                scan = try matcher.scanBlob(bytes, scratch: worker.scratch)
            }
            switch scan.kind {
            case .text: break
            case .binary: worker.binary += 1
            case .archive: worker.archives += 1
            }
            if scan.truncated { worker.truncated += 1 }
            if scan.gaps.contains(.regexLimit) { worker.regexLimited += 1 }
            if scan.gaps.contains(.decodedInPart) { worker.decodedInPart += 1 }
            worker.regexLimitHits.merge(scan.regexLimitHits, uniquingKeysWith: +)
            let reasons = UnscannedReason.from(scan.gaps)
            if !reasons.isEmpty { worker.unscanned.append((index, reasons, Array(scan.regexLimitHits.keys), nil)) }
            // Secrets the allowlist names are dropped here, before anything records them.
            let matches = scan.matches.filter { !allowlist.allowsSecret(String(decoding: $0.secret, as: UTF8.self)) }
            if !matches.isEmpty {
                worker.found.append(BlobMatches(blob: index, matches: matches,
                                                prints: try SecretText.identify(matches, rules: matcher.rules)))
            }
            progress?.bytesDone.add(bytes.count, ordering: .relaxed)
        }
        progress?.blobsDone.add(1, ordering: .relaxed)
    }

    /// Phase timings on stderr when KEYSEAL_TRACE is set (for bench/ and profiling).
    static let tracing = ProcessInfo.processInfo.environment["KEYSEAL_TRACE"] != nil
    static func trace(_ what: String, since start: Date) {
        guard tracing else { return }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        FileHandle.standardError.write(Data(String(format: "[%.3f s, CPU %.2f s] %@\n", Date().timeIntervalSince(start), cpu, what).utf8))
    }
}

/// The pack deltas of a history scan, and the recorded hits of the blobs that are bases of others,
/// each kept until its last delta has taken it (or the scan ends).
final class DeltaScanning: Sendable {
    /// `KEYSEAL_DELTA=0` scans every blob in full (to compare both ways, in tests and bench/).
    static let enabled = ProcessInfo.processInfo.environment["KEYSEAL_DELTA"] != "0"
    /// Fewer blobs to read (a `--since-commit` range in CI) hold few deltas of each other: not worth
    /// loading (or, on a new rule set, compiling) the delta scans' two databases.
    static let minimumBlobs = 64
    /// Hits kept per base, and in all, for the deltas still to come.
    static let maxHitsPerRecord = 8192
    static let maxRecordedMemory = 32 << 20

    /// Bases' bytes kept in all, for rebuilding their deltas (in pack order a base's deltas follow
    /// it closely: on redis.git 21 MiB would keep every base until its last delta).
    static let maxContentMemory = 24 << 20

    let deltas: PackDeltas
    private struct State {
        var hits: [Int: RecordedHits] = [:]
        var contents: [Int: [UInt8]] = [:]
        /// Per blob: deltas of it not yet scanned.
        var waiting: [Int32]
        /// Per blob: read (whatever came of it).
        var finished: [Bool]
        var memory = 0, peakMemory = 0, contentMemory = 0, peakContentMemory = 0
        var asDeltas = 0, bases = 0, notReady = 0, rebuilt = 0
        var windowedBytes = 0, deltaBytes = 0, regions = 0, regionsReused = 0, bytesReused = 0
        var time = VectorscanTime()
    }
    private let state: Mutex<State>

    /// Whether deltas are rebuilt from their bases' bytes (kept only then).
    let rebuilding: Bool

    /// `reading`: the indexes of `blobs` the scan reads; the read order is the packs' (`order`).
    init(blobs: [ObjectID], reading: [Int], repository: Repository, rebuilding: Bool) {
        deltas = PackDeltas(blobs, reading: reading, repository: repository)
        order = deltas.packOrder(reading)
        self.rebuilding = rebuilding
        // A blob the scan does not read (the store has it) is as good as read: nothing to wait for.
        var finished = [Bool](repeating: true, count: blobs.count)
        for index in reading where index >= 0 && index < blobs.count { finished[index] = false }
        state = Mutex(State(waiting: deltas.dependents, finished: finished))
    }

    /// Whether blob `index` is a delta whose base has not been read yet (another thread has it, or
    /// it comes later): worth putting off to the end of the batch rather than reading whole.
    func baseInProgress(of index: Int) -> Bool {
        let base = Int(deltas.base[index])
        return base >= 0 && state.withLock { !$0.finished[base] }
    }

    /// Blob `index` was read but not scanned (too large, missing): deltas of it need not wait.
    func skipped(_ index: Int) {
        state.withLock { $0.finished[index] = true }
    }

    /// The blobs to read, in the order their packs store them.
    let order: [Int]

    func isBase(_ index: Int) -> Bool { deltas.dependents[index] > 0 }

    /// What blob `index`'s base left for it: its bytes (to rebuild it from) and its hits (to scan it
    /// as a delta), either nil when not kept (not read yet by another thread, not text, over a cap).
    /// nil when it is no delta of a blob the scan reads. Called once per blob.
    func take(_ index: Int) -> (content: [UInt8]?, hits: RecordedHits?)? {
        let base = Int(deltas.base[index])
        guard base >= 0 else { return nil }
        return state.withLock { state in
            let hits = state.hits[base], content = state.contents[base]
            state.waiting[base] -= 1
            if state.waiting[base] <= 0 {
                if let gone = state.hits.removeValue(forKey: base) { state.memory -= gone.memory }
                if let gone = state.contents.removeValue(forKey: base) { state.contentMemory -= gone.count }
            }
            if hits == nil && content == nil { state.notReady += 1 }
            return (content, hits)
        }
    }

    /// The base a delta scan of blob `index` can use, from its base's `hits`: nil when its delta
    /// does not describe it.
    func base(hits: RecordedHits, of index: Int, targetLength: Int, reader: PackDeltas.Reader) -> DeltaBase? {
        guard let copies = deltas.copies(of: index, targetLength: targetLength, baseLength: hits.length, reader: reader)
        else { return nil }
        return Self.base(hits, copies)
    }

    /// A base's recorded hits and the copies its delta makes, as the engine takes them.
    static func base(_ hits: RecordedHits, _ copies: [PackDeltaCopy]) -> DeltaBase {
        DeltaBase(hits: hits, segments: copies.map { CopySegment(target: $0.target, base: $0.base, count: $0.count) })
    }

    /// Keeps what blob `index` recorded, and its bytes, while deltas of it wait.
    func scanned(_ index: Int, recorded: RecordedHits?, content: UnsafeRawBufferPointer, asDelta: Bool, rebuilt: Bool) {
        // Copied before taking the lock (the cap is checked again under it), and only when there is
        // room and a delta still to rebuild from it.
        let keep = rebuilding && isBase(index) && content.count <= Self.maxContentMemory
            && state.withLock { $0.waiting[index] > 0 && $0.contentMemory + content.count <= Self.maxContentMemory }
        let bytes = keep ? [UInt8](content) : nil
        state.withLock { state in
            state.finished[index] = true
            if asDelta { state.asDeltas += 1 }
            if rebuilt { state.rebuilt += 1 }
            guard state.waiting[index] > 0 else { return }
            // Bounded: a base whose deltas never come (too large to read, or last in the pack)
            // keeps its record to the end, so records past the cap are not kept (their deltas are
            // read through libgit2, or scanned in full).
            if let recorded, recorded.memory <= Self.maxHitsPerRecord * 8,
               state.memory + recorded.memory <= Self.maxRecordedMemory {
                state.hits[index] = recorded
                state.bases += 1
                state.memory += recorded.memory
                state.peakMemory = max(state.peakMemory, state.memory)
            }
            if let bytes, state.contentMemory + bytes.count <= Self.maxContentMemory {
                state.contents[index] = bytes
                state.contentMemory += bytes.count
                state.peakContentMemory = max(state.peakContentMemory, state.contentMemory)
            }
        }
    }

    /// Adds up what a worker's scratch read of its deltas (it counts from its start).
    func count(_ scratch: Matcher.Scratch) {
        state.withLock { state in
            state.windowedBytes += scratch.deltaBytesScanned
            state.regions += scratch.deltaRegions
            state.regionsReused += scratch.deltaRegionsReused
            state.bytesReused += scratch.deltaBytesReused
            state.time = state.time + scratch.time
            state.deltaBytes += scratch.deltaBytes
        }
    }

    var scannedAsDeltas: Int { state.withLock { $0.asDeltas } }
    var rebuiltFromDeltas: Int { state.withLock { $0.rebuilt } }

    var summary: String {
        state.withLock { state in
            "delta scans: \(state.asDeltas) blobs scanned as deltas, \(state.rebuilt) rebuilt from their bases' bytes (peak \(state.peakContentMemory >> 20) MiB kept), \(state.bases) bases recorded (peak \(state.peakMemory / 1024) KiB of hits), \(state.notReady) deltas whose base was not ready; Vectorscan read \(state.windowedBytes >> 20) MiB of their \(state.deltaBytes >> 20) MiB (\(state.regions) regions; \(state.regionsReused) regions, \(state.bytesReused >> 20) MiB, seen before)"
                + String(format: "; Vectorscan CPU s: full scans %.2f, delta regions %.2f, delta whole pass %.2f", state.time.full, state.time.windowed, state.time.whole)
        }
    }
}

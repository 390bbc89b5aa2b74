import Foundation
import KeysealEngine
import KeysealGit
import KeysealStore
import Synchronization

/// One line of git's pre-receive input: `<old> <new> <ref>`.
public struct ReceiveUpdate: Sendable, Equatable {
    public let old: String
    public let new: String
    public let ref: String

    public var isDeletion: Bool { new == PushUpdate.zero }

    public init(old: String, new: String, ref: String) {
        self.old = old
        self.new = new
        self.ref = ref
    }

    /// Parses git's pre-receive standard input; a malformed line is an error (refusing the push).
    public static func parse(_ text: String) throws -> [ReceiveUpdate] {
        try text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 2).map(String.init)
            if fields.isEmpty { return nil }
            guard fields.count == 3, ObjectID(hex: fields[0]) != nil, ObjectID(hex: fields[1]) != nil, !fields[2].isEmpty else {
                throw KeysealError.invalidInput("pre-receive: expected '<old id> <new id> <ref>' lines on standard input")
            }
            return ReceiveUpdate(old: fields[0], new: fields[1], ref: fields[2])
        }
    }
}

/// What the server's hook is told besides the updates.
public struct PreReceiveOptions: Sendable {
    /// The server's config; nil: `keyseal.toml` or `.keyseal.toml` in the repository's git
    /// directory, when there is one. A config inside the pushed commits never applies: the pusher
    /// does not set the policy their push is judged by.
    public var configFile: String?
    /// Seconds the scan may take; past it, what is left is not scanned (`GuardResult.timedOut`).
    public var timeout: Double?
    public var showSecrets = false

    public init(configFile: String? = nil, timeout: Double? = nil, showSecrets: Bool = false) {
        self.configFile = configFile
        self.timeout = timeout
        self.showSecrets = showSecrets
    }
}

extension GuardScanner {
    /// The commits a push would add to this repository: reachable from a pushed tip and from no
    /// ref the repository has now (git updates refs only after this hook accepts). A deletion
    /// adds nothing; a new branch from a base the server has costs only its new commits; a
    /// force-push is judged on its new commits. The repository is opened as git describes it to
    /// the hook, so objects still in the push's quarantine are read.
    public static func preReceive(updates: [ReceiveUpdate], options: PreReceiveOptions,
                                  cacheDirectory: URL? = Matcher.defaultCacheDirectory) throws -> GuardResult {
        let started = Date()
        let deadline = options.timeout.map { started.addingTimeInterval($0) }
        let repository = try Repository.openForHook()
        let configFile = options.configFile ?? serverConfig(gitDirectory: repository.gitDirectory)
        let settings = try Settings.load(workDirectory: nil, configFile: configFile)
        var commits: [ObjectID] = []
        var seen = Set<ObjectID>()
        var notes: [String] = []
        for update in updates where !update.isDeletion {
            // A pushed tag is judged by the commit it points to. A ref to a tree or a blob is rare
            // and cannot be walked: it is noted, not passed silently.
            guard let commit = try? repository.resolveCommit(update.new) else {
                notes.append("\(update.ref) points to an object that is not a commit; it was not scanned")
                continue
            }
            for id in try repository.commits(from: commit, hiding: [], hidingGlobs: ["refs/*"]) where seen.insert(id).inserted {
                commits.append(id)
            }
        }
        var changed: [AddedContent] = []
        var authors: [ObjectID: Signature] = [:]
        var subjects: [String: String] = [:]
        var roots: Set<String> = []
        let heights = TreeHeights(repository)
        var read = 0
        for commit in commits {
            if let deadline, Date() > deadline { break }
            changed += try repository.changedFiles(of: commit, heights: heights)
            authors[commit] = try repository.author(of: commit)
            subjects[commit.hex] = try repository.subject(of: commit)
            if try repository.commit(commit).parents.isEmpty { roots.insert(commit.hex) }
            read += 1
        }
        let matcher = try settings.matcher(cacheDirectory: cacheDirectory)
        let prescan = try addedContent(changed, repository: repository, settings: settings, matcher: matcher,
                                       heights: heights, roots: [], deadline: deadline)
        let added = prescan.added
        var result = try scan(added, repository: repository, settings: settings, showSecrets: options.showSecrets,
                              authors: authors, cacheDirectory: cacheDirectory, matcher: matcher, deadline: deadline)
        result.blobsScanned = prescan.scanned
        if prescan.left > 0 {
            result.timedOut = true
            result.filesLeft += prescan.left
        }
        if read < commits.count {
            result.timedOut = true
            result.commitsLeft = commits.count - read
        }
        result.commitsScanned = read
        result.subjects = subjects
        result.roots = roots
        result.commitOrder = commits.map(\.hex)
        result.notes += notes + settings.config.warnings
        if !result.findings.isEmpty {
            do {
                try remember(result.findings, repository: repository)
            } catch {
                result.notes.append("the secrets found could not be recorded in the store: \(error)")
            }
        }
        return result
    }

    /// What `commits` added, line by line, found cheaply: `changed` (each commit's changed files as
    /// wholly added, from `changedFiles`) is scanned blob by blob, each blob once, on all cores. Most
    /// hold no match: only the commits that change a file to a blob with a match (or one not fully
    /// scanned) are diffed line by line, with rename detection, which is where a hook's time went.
    /// `roots`: commits to compare with an empty tree (a shallow clone's boundary).
    static func addedContent(_ changed: [AddedContent], repository: Repository, settings: Settings, matcher: Matcher,
                             heights: TreeHeights, roots: Set<ObjectID>, deadline: Date?)
        throws -> (added: [AddedContent], scanned: Int, left: Int) {
        let changed = changed.filter { !settings.allowlist.allowsPath(String(decoding: $0.path, as: UTF8.self)) }
        let prescan = try flagBlobs(changed, repository: repository, matcher: matcher, maxBlobSize: settings.maxBlobSize,
                                    deadline: deadline)
        var added: [AddedContent] = []
        var exact: [ObjectID: [AddedContent]] = [:]
        for candidate in changed where prescan.flagged.contains(candidate.blob) {
            guard let commit = candidate.commit else { continue }
            if exact[commit] == nil {
                exact[commit] = try repository.addedContent(of: commit, treatAsRoot: roots.contains(commit), heights: heights)
            }
            added += exact[commit, default: []].filter { $0.path == candidate.path }
        }
        return (added, prescan.scanned, prescan.left)
    }

    /// Scans each distinct blob of `changed` once, on all cores, and returns those that need a closer
    /// look: a match, a part not scanned, too large, or missing. `left`: files not reached in time.
    static func flagBlobs(_ changed: [AddedContent], repository: Repository, matcher: Matcher, maxBlobSize: Int,
                          deadline: Date?) throws -> (flagged: Set<ObjectID>, scanned: Int, left: Int) {
        var seen = Set<ObjectID>()
        let unique = changed.map(\.blob).filter { seen.insert($0).inserted }
        /// One thread's state; handed to `collected` only when its thread is done with it.
        final class Worker: @unchecked Sendable {
            let scratch: Matcher.Scratch
            var flagged: [ObjectID] = []
            var scanned = 0
            var reached: [ObjectID] = []
            init(scratch: Matcher.Scratch) { self.scratch = scratch }
        }
        let collected = Mutex<[Worker]>([])
        try BlobReader.read(
            unique, repository: repository, threads: ProcessInfo.processInfo.activeProcessorCount, maxSize: maxBlobSize,
            makeWorker: { Worker(scratch: try matcher.makeScratch()) },
            body: { worker, index, content in
                if let deadline, Date() > deadline { return }
                worker.reached.append(unique[index])
                switch content {
                case .bytes(let bytes):
                    let scan = try matcher.scanBlob(bytes, scratch: worker.scratch)
                    worker.scanned += 1
                    if !scan.matches.isEmpty || !scan.gaps.isEmpty { worker.flagged.append(unique[index]) }
                case .tooLarge, .missing:
                    worker.flagged.append(unique[index])
                }
            },
            finish: { worker in
                let done = worker
                collected.withLock { $0.append(done) }
            })
        let workers = collected.withLock { $0 }
        let reached = Set(workers.flatMap(\.reached))
        return (Set(workers.flatMap(\.flagged)), workers.reduce(0) { $0 + $1.scanned },
                changed.filter { !reached.contains($0.blob) }.count)
    }

    /// The push option that asks for an emergency bypass (`git push -o keyseal.bypass=REASON`), from
    /// the environment git gives the hook; nil when the push gave none (or an empty reason).
    public static func bypassReason(environment: [String: String]) -> String? {
        let count = min(Int(environment["GIT_PUSH_OPTION_COUNT"] ?? "") ?? 0, 1000)
        for index in 0..<max(count, 0) {
            guard let option = environment["GIT_PUSH_OPTION_\(index)"], option.hasPrefix("keyseal.bypass=") else { continue }
            let reason = option.dropFirst("keyseal.bypass=".count).trimmingCharacters(in: .whitespacesAndNewlines)
            if !reason.isEmpty { return String(reason.prefix(500)) }
        }
        return nil
    }

    /// Who pushed, as the hosting software tells the hook (GitLab, Gitea/Forgejo, an HTTP server),
    /// else the account git runs as.
    public static func pusher(environment: [String: String]) -> String {
        for name in ["GL_USERNAME", "GITEA_PUSHER_NAME", "REMOTE_USER", "LOGNAME", "USER"] {
            if let value = environment[name], !value.isEmpty { return "\(value) (\(name))" }
        }
        return "unknown"
    }

    /// A bypass accepted by the server: recorded on each secret it let through (which stays open:
    /// it is in the repository now and must be rotated).
    public static func recordBypass(_ result: GuardResult, reason: String, pusher: String) throws {
        let repository = try Repository.openForHook()
        let date = Timestamp.iso8601UTC(Int64(Date().timeIntervalSince1970))
        try remember(result.findings, repository: repository,
                     note: "pushed past pre-receive with keyseal.bypass by \(pusher) on \(date): \(reason)")
    }

    /// The secrets a push brought, recorded (open, unless already decided) in the store beside the
    /// repository: an admin can then `keyseal triage` one by its fingerprint, and the next push
    /// holding it passes.
    static func remember(_ findings: [Finding], repository: Repository, note: String? = nil) throws {
        // The organisation's store when the server sets KEYSEAL_STORE to one, so its leads triage there.
        let choice = ProcessInfo.processInfo.environment["KEYSEAL_STORE"].flatMap(PostgresAddress.init).map { StoreChoice.postgres($0.connecting(within: 5), repository: nil) }
        // Safe: neither choice is .none, and the repository is given.
        let store = try StoreOpener.open(choice ?? .inRepository, repository: repository, create: true)!
        var seen = Set<String>()
        let now = Timestamp.iso8601UTC(Int64(Date().timeIntervalSince1970))
        try store.rememberSecrets(findings.filter { seen.insert($0.fingerprint).inserted }.map {
            SecretRecord(fingerprint: $0.fingerprint, rule: $0.rule, provider: $0.provider, description: $0.description,
                         preview: $0.preview, firstSeen: now, confidence: $0.confidence)
        }, note: note)
    }

    /// `keyseal.toml` or `.keyseal.toml` in the git directory of the repository the hook guards.
    static func serverConfig(gitDirectory: String) -> String? {
        for name in ["keyseal.toml", ".keyseal.toml"] {
            let path = (gitDirectory as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }
}

import Foundation
import KeysealEngine
import KeysealGit
import KeysealStore

/// The rotation checklist: one entry per distinct secret, open first (most urgent first within a
/// status), then rotated, accepted and false positives. Every time in it is UTC.
public struct Checklist: Sendable, Codable {
    /// 2: times in UTC, status counts that add up, the steps common to every secret given once.
    public var version = 2
    public let repository: String
    public let generatedAt: String
    public let summary: Summary
    public let entries: [Entry]
    /// The steps after each rotation, the same for every secret: given once, not in every entry.
    public let afterEachRotation: [String]
    /// The steps once every secret is rotated (one history purge for all of them).
    public let afterAllRotations: [String]

    /// `open + rotated + accepted + falsePositive == secrets`; `pushed` and `inHead` count across statuses.
    public struct Summary: Sendable, Codable {
        public let secrets: Int
        public let open: Int
        public let rotated: Int
        public let accepted: Int
        public let falsePositive: Int
        public let pushed: Int
        public let inHead: Int
        enum CodingKeys: String, CodingKey {
            case secrets, open, rotated, accepted, pushed
            case falsePositive = "false_positive"
            case inHead = "in_head"
        }

        init(entries: [Entry]) {
            // Counted in place: `filter` would copy every (large) entry.
            var byStatus: [SecretStatus: Int] = [:]
            var pushed = 0, inHead = 0
            for entry in entries {
                byStatus[entry.status, default: 0] += 1
                if entry.pushed { pushed += 1 }
                if entry.inHead { inHead += 1 }
            }
            secrets = entries.count
            open = byStatus[.open] ?? 0
            rotated = byStatus[.rotated] ?? 0
            accepted = byStatus[.accepted] ?? 0
            falsePositive = byStatus[.falsePositive] ?? 0
            self.pushed = pushed
            self.inHead = inHead
        }
    }

    public struct Commit: Sendable, Codable {
        public let id: String
        public let author: String
        public let email: String
        public let date: String
    }

    public struct Occurrence: Sendable, Codable {
        public let path: String
        public let line: Int
        public let column: Int
        public let commit: String
        public let date: String
        public let author: String
        /// In an org-wide checklist: the repository (its normalised remote URL), and how many places
        /// in it hold the secret (this occurrence is the first of them).
        public var repository: String? = nil
        public var places: Int? = nil
    }

    public struct Entry: Sendable, Codable {
        public let fingerprint: String
        public let provider: String
        public let rule: String
        public let description: String
        public let preview: String
        public let status: SecretStatus
        public let note: String?
        public let pushed: Bool
        public let inHead: Bool
        public let branches: [String]
        public let tags: [String]
        public let remoteRefs: [String]
        public let firstCommit: Commit
        public let occurrences: [Occurrence]
        /// Exposure window: introduced, and removed from HEAD's first-parent line (nil: still there or never on it).
        public let introduced: String
        public let removed: String?
        public let rotation: RotationGuide
        /// This guide's own steps after rotating (the checklist's `afterEachRotation` follow for every secret).
        public let afterRotation: [String]
        /// Steps for this secret's exposure: remove it from the current code, rebuild its tags' images.
        public let followUps: [String]
        /// The other half of a multi-part secret (the AWS key id for a secret access key), merged
        /// into this entry: rotating one rotates both.
        public var paired: Paired?
        /// The identity the secret is used with (a username, a client id): name and preview.
        public var identity: String?
        /// The container images `keyseal image` found it in (recorded in the store).
        public var images: [ImageHolding] = []
        /// In an org-wide checklist: every repository that holds it (its branches, tags and remote
        /// refs are then written `REPOSITORY@NAME`).
        public var repositories: [String]? = nil

        /// An image that holds the secret, and where in it.
        public struct ImageHolding: Sendable, Codable, Hashable {
            public let image: String
            public let platform: String
            public let imageDigest: String
            /// `layer 2: app/old.env (deleted by a later layer, still in the image)`, `config: Env[1]`.
            public let place: String
            public let scannedAt: String
            enum CodingKeys: String, CodingKey {
                case image, platform, place
                case imageDigest = "image_digest"
                case scannedAt = "scanned_at"
            }
        }

        public struct Paired: Sendable, Codable {
            public let fingerprint: String
            public let rule: String
            public let preview: String
        }

        enum CodingKeys: String, CodingKey {
            case fingerprint, provider, rule, description, preview, status, note, pushed, branches, tags, occurrences,
                 introduced, removed, rotation, paired, identity, images, repositories
            case inHead = "in_head"
            case remoteRefs = "remote_refs"
            case firstCommit = "first_commit"
            case afterRotation = "after_rotation"
            case followUps = "follow_ups"
        }
    }

    enum CodingKeys: String, CodingKey {
        case version, repository, summary, entries
        case generatedAt = "generated_at"
        case afterEachRotation = "after_each_rotation"
        case afterAllRotations = "after_all_rotations"
    }
}

public enum ChecklistBuilder {
    /// Scans (incrementally, through the store), then builds the checklist for secrets whose status
    /// is in `statuses` (nil: all).
    public static func build(path: String, configFile: String?, store: StoreChoice, statuses: Set<SecretStatus>?,
                             progress: ScanProgress? = nil) throws -> Checklist {
        let repository = try Repository.open(path)
        // Loaded once: the scan uses them, and each secret's guide is its rule's (custom rules' from
        // the config), found by rule id.
        let settings = try Settings.load(workDirectory: repository.workDirectory, configFile: configFile)
        let result = try HistoryScan.scan(ScanOptions(path: path, configFile: configFile, store: store), repository: repository,
                                          settings: settings, progress: progress)
        let rulesByID = Dictionary((BuiltInRules.all + settings.config.customRules).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var notes: [String: String] = [:]
        var images: [String: [ImageOccurrence]] = [:]
        if case .none = store {} else {
            for secret in try Triage.secrets(repository: path, store: store, statuses: nil) { notes[secret.fingerprint] = secret.note }
            images = try Triage.imageOccurrences(repository: path, store: store)
        }
        var groups: [String: [Finding]] = [:]
        for finding in result.findings where statuses?.contains(finding.status ?? .open) ?? true {
            groups[finding.fingerprint, default: []].append(finding)
        }
        let targets = Set(groups.values.flatMap { $0.map(\.commit) }).compactMap(ObjectID.init(hex:))
        let exposure = try repository.exposure(of: targets)
        var entries: [Checklist.Entry] = []
        for (fingerprint, findings) in groups {
            let ordered = findings.sorted { ($0.date, $0.path, $0.line) < ($1.date, $1.path, $1.line) }
            let first = ordered[0]
            var refs = Set<String>()
            for finding in ordered {
                if let id = ObjectID(hex: finding.commit) { refs.formUnion(exposure.containing[id] ?? []) }
            }
            let branches = refs.filter { $0.hasPrefix("refs/heads/") }.map { String($0.dropFirst(11)) }.sorted()
            let tags = refs.filter { $0.hasPrefix("refs/tags/") }.map { String($0.dropFirst(10)) }.sorted()
            let remotes = refs.filter { $0.hasPrefix("refs/remotes/") }.map { String($0.dropFirst(13)) }.sorted()
            let placements = Set(ordered.map { "\($0.blob)\u{0}\($0.path)" }).compactMap { key -> (blob: ObjectID, path: String)? in
                let parts = key.split(separator: "\u{0}", maxSplits: 1)
                guard parts.count == 2, let blob = ObjectID(hex: String(parts[0])) else { return nil }
                return (blob, String(parts[1]))
            }
            // The scan has looked each (blob, path) up in HEAD once already (archive members by their archive).
            let inHead = ordered.contains { $0.inHead == true }
            let introducedAt = ordered.compactMap { ObjectID(hex: $0.commit) }
                .compactMap { try? repository.commit($0).time }.min() ?? 0
            let removed = inHead ? nil : try repository.removalTime(of: placements, introducedAt: introducedAt)
            let guide = rulesByID[first.rule].map(RotationGuide.guide(for:))
                ?? RotationGuide.standard(provider: first.provider, description: first.description)
            entries.append(Checklist.Entry(
                fingerprint: fingerprint, provider: first.provider, rule: first.rule, description: first.description,
                preview: first.preview, status: first.status ?? .open, note: notes[fingerprint], pushed: !remotes.isEmpty,
                inHead: inHead, branches: branches, tags: tags, remoteRefs: remotes,
                firstCommit: Checklist.Commit(id: first.commit, author: first.author, email: first.email, date: utc(first.date)),
                occurrences: ordered.map {
                    Checklist.Occurrence(path: $0.path, line: $0.line, column: $0.column, commit: $0.commit, date: utc($0.date), author: $0.author)
                },
                introduced: utc(first.date), removed: removed.map(Timestamp.iso8601UTC),
                rotation: guide, afterRotation: guide.update,
                followUps: FollowUp.steps(paths: ordered.map(\.path), tags: tags, inHead: inHead,
                                          images: Checklist.Entry.ImageHolding.names(images[fingerprint] ?? []))
                    .map { $0.text(code: FollowUp.codeSpan) },
                identity: ordered.compactMap(\.identity).first,
                images: (images[fingerprint] ?? []).map(Checklist.Entry.ImageHolding.init)))
        }
        let name = URL(fileURLWithPath: repository.workDirectory ?? repository.gitDirectory).standardizedFileURL.lastPathComponent
        return finished(entries, partners: groups.mapValues { $0.compactMap(\.pairedWith).first }, repository: name)
    }

    /// Multi-part secrets merged, entries in checklist order, and the document around them.
    static func finished(_ built: [Checklist.Entry], partners: [String: String?], repository name: String) -> Checklist {
        var entries = built
        // Multi-part secrets are one secret: the partner's entry is merged into the entry that names it.
        let byFingerprint = Dictionary(entries.map { ($0.fingerprint, $0) }, uniquingKeysWith: { a, _ in a })
        var absorbed = Set<String>()
        for index in entries.indices {
            guard let partner = partners[entries[index].fingerprint] ?? nil,
                  let other = byFingerprint[partner], !absorbed.contains(entries[index].fingerprint) else { continue }
            entries[index].paired = .init(fingerprint: other.fingerprint, rule: other.rule, preview: other.preview)
            absorbed.insert(partner)
        }
        entries.removeAll { absorbed.contains($0.fingerprint) }
        // Open first, then rotated, accepted and false positives; within a status pushed before
        // local, in a tag before not, still in HEAD before history-only, then oldest first.
        // Sorted by key, then placed: an entry is large, and an org-wide checklist has 100,000s.
        let keys = entries.indices.map { i in
            let e = entries[i]
            return (order: statusOrder(e.status), local: e.pushed ? 0 : 1, untagged: e.tags.isEmpty ? 1 : 0,
                    history: e.inHead ? 0 : 1, introduced: e.introduced, fingerprint: e.fingerprint, index: i)
        }.sorted {
            ($0.order, $0.local, $0.untagged, $0.history, $0.introduced, $0.fingerprint)
                < ($1.order, $1.local, $1.untagged, $1.history, $1.introduced, $1.fingerprint)
        }
        entries = keys.map { entries[$0.index] }
        return Checklist(repository: name, generatedAt: Timestamp.iso8601UTC(Int64(Date().timeIntervalSince1970)),
                         summary: Checklist.Summary(entries: entries), entries: entries,
                         afterEachRotation: RotationGuide.afterwards, afterAllRotations: afterAllRotations)
    }

    /// The checklist of every repository in an organisation's store, from what scans recorded (no
    /// clone, no scan): one entry per secret with every repository, branch, tag and image that
    /// holds it, and whether it was pushed.
    public static func buildOrganisation(store choice: StoreChoice, statuses: Set<SecretStatus>?) throws -> Checklist {
        guard let store = try StoreOpener.open(choice, repository: nil, create: false) else { throw KeysealError.needsStore }
        let rulesByID = Dictionary(BuiltInRules.all.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let images = try store.imageOccurrences()
        var groups: [String: [(summary: RepositorySecret, secret: SecretRecord)]] = [:]
        for (summary, secret) in try store.repositorySecrets(statuses: statuses) { groups[secret.fingerprint, default: []].append((summary, secret)) }
        var entries: [Checklist.Entry] = []
        for (fingerprint, rows) in groups {
            let ordered = rows.sorted { ($0.summary.firstDate, $0.summary.repository) < ($1.summary.firstDate, $1.summary.repository) }
            let first = ordered[0].summary
            let secret = ordered[0].secret
            var branches = Set<String>(), tags = Set<String>(), remotes = Set<String>()
            for (summary, _) in ordered {
                for ref in summary.refs {
                    if ref.hasPrefix("refs/heads/") { branches.insert("\(summary.repository)@\(ref.dropFirst(11))") }
                    if ref.hasPrefix("refs/tags/") { tags.insert("\(summary.repository)@\(ref.dropFirst(10))") }
                    if ref.hasPrefix("refs/remotes/") { remotes.insert("\(summary.repository)@\(ref.dropFirst(13))") }
                }
            }
            let inHead = ordered.contains { $0.summary.inHead }
            let tagList = tags.sorted()
            let guide = rulesByID[secret.rule].map(RotationGuide.guide(for:))
                ?? RotationGuide.standard(provider: secret.provider, description: secret.description)
            let holdings = images[fingerprint] ?? []
            var entry = Checklist.Entry(
                fingerprint: fingerprint, provider: secret.provider, rule: secret.rule, description: secret.description,
                preview: secret.preview, status: secret.status, note: secret.note, pushed: !remotes.isEmpty,
                inHead: inHead, branches: branches.sorted(), tags: tagList, remoteRefs: remotes.sorted(),
                firstCommit: Checklist.Commit(id: first.firstCommit, author: first.firstAuthor, email: first.firstEmail,
                                              date: utc(first.firstDate)),
                // The first place in each repository (the store's summary; `keyseal checklist` in a
                // repository lists all of its places).
                occurrences: ordered.map { summary, _ in
                    var occurrence = Checklist.Occurrence(path: summary.firstPath, line: summary.firstLine, column: summary.firstColumn,
                                                          commit: summary.firstCommit, date: utc(summary.firstDate), author: summary.firstAuthor)
                    occurrence.repository = summary.repository
                    occurrence.places = summary.occurrences
                    return occurrence
                },
                introduced: utc(first.firstDate), removed: nil,
                rotation: guide, afterRotation: guide.update,
                followUps: FollowUp.steps(paths: ordered.map(\.summary.firstPath), tags: tagList, inHead: inHead,
                                          images: Checklist.Entry.ImageHolding.names(holdings))
                    .map { $0.text(code: FollowUp.codeSpan) },
                identity: nil,
                images: holdings.map(Checklist.Entry.ImageHolding.init))
            entry.repositories = ordered.map(\.summary.repository)
            entries.append(entry)
        }
        let repositories = Set(groups.values.flatMap { $0.map(\.summary.repository) }).count
        return finished(entries, partners: [:], repository: "all repositories (\(repositories)) of \(store.path)")
    }

    /// The order of the checklist's sections.
    static func statusOrder(_ status: SecretStatus) -> Int {
        switch status {
        case .open: 0
        case .rotated: 1
        case .accepted: 2
        case .falsePositive: 3
        }
    }

    /// A git author date (at the author's offset) in UTC, so the checklist has one time zone.
    static func utc(_ date: String) -> String {
        Timestamp.seconds(date).map { Timestamp.iso8601UTC(Int64($0)) } ?? date
    }

    /// Once for the repository, not per secret: one purge removes every rotated value.
    static let afterAllRotations = [
        "Purge the old values from history in one pass: list each as `VALUE==>REMOVED` in a file, run `git filter-repo --replace-text FILE`, force-push every branch and tag, and have everyone re-clone (old clones, forks and caches keep them).",
        "Inject secrets at run time, never at build time: a secrets manager, Docker/Kubernetes secrets, or `RUN --mount=type=secret` in Dockerfiles (never ENV or ARG).",
    ]

}

/// A step for one secret's exposure. It names paths and tags from the repository, so each format
/// writes them as code its own way (escaped for HTML, fenced for Markdown) rather than receiving
/// them inside a finished sentence.
enum FollowUp {
    case removeFromCode(paths: [String])
    case rebuildImages(tags: [String])
    /// Images `keyseal image` found the secret in: rebuilt, then proven clean.
    case verifyImages(images: [String])

    static func steps(paths: [String], tags: [String], inHead: Bool, images: [String] = []) -> [FollowUp] {
        (inHead ? [.removeFromCode(paths: Array(Set(paths)).sorted())] : []) + (tags.isEmpty ? [] : [.rebuildImages(tags: tags)])
            + (images.isEmpty ? [] : [.verifyImages(images: images)])
    }

    static func steps(for entry: Checklist.Entry) -> [FollowUp] {
        steps(paths: entry.occurrences.map(\.path), tags: entry.tags, inHead: entry.inHead,
              images: Checklist.Entry.ImageHolding.names(entry.images))
    }

    /// The sentence, with `code` applied to each path, tag and command; the rest is plain words.
    func text(code: (String) -> String) -> String {
        switch self {
        case .removeFromCode(let paths):
            "Remove the secret from the current code (\(paths.map(code).joined(separator: ", "))) and load it at run time instead."
        case .rebuildImages(let tags):
            "Rebuild and redeploy the images built from \(tags.count == 1 ? "tag" : "tags") \(tags.map(code).joined(separator: ", ")) (\(code("keyseal rebuild")) makes the requests), and delete the old images from registries."
        case .verifyImages(let images):
            "Rebuild \(images.count == 1 ? "the image that holds" : "the images that hold") it (\(images.map(code).joined(separator: ", "))), prove each rebuild clean with \(code("keyseal image NEW-IMAGE --verify")), and delete the old images from registries."
        }
    }

    /// A Markdown code span that holds any text: its fence is longer than any run of backticks in it.
    static func codeSpan(_ text: String) -> String {
        var longest = 0, run = 0
        for character in text {
            run = character == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: longest + 1)
        let pad = text.hasPrefix("`") || text.hasSuffix("`") ? " " : ""
        return fence + pad + text + pad + fence
    }
}

extension Checklist.Entry.ImageHolding {
    init(_ occurrence: ImageOccurrence) {
        image = occurrence.image
        platform = occurrence.platform
        imageDigest = occurrence.imageDigest
        scannedAt = occurrence.scannedAt
        guard let place = try? JSONDecoder().decode(ImagePlace.self, from: Data(occurrence.place.utf8)) else {
            self.place = occurrence.path
            return
        }
        switch place.source {
        case .layer:
            let state = (place.visibility ?? .visible).stillInImage.map { " (\($0))" } ?? ""
            self.place = "layer \(place.layerIndex ?? 0): \(occurrence.path):\(occurrence.line)\(state)"
        case .config, .history, .annotation:
            self.place = "\(place.source.rawValue): \(occurrence.path)"
        case .attestation:
            self.place = "attestation \(place.entry ?? "")"
        }
    }

    /// Each image once, with its platform when it has several.
    static func names(_ occurrences: [ImageOccurrence]) -> [String] {
        Array(Set(occurrences.map(\.image))).sorted()
    }

    static func names(_ holdings: [Checklist.Entry.ImageHolding]) -> [String] {
        Array(Set(holdings.map(\.image))).sorted()
    }
}

import Dispatch
import Foundation
import KeysealEngine
import KeysealGit
import KeysealImage
import KeysealStore
import Synchronization

/// What `keyseal image` is asked to read.
public struct ImageScanOptions: Sendable {
    /// Image tarballs (`docker save`, an OCI layout in a tar) or OCI layout folders.
    public var inputs: [String]
    public var platform: PlatformFilter = .all
    public var configFile: String?
    public var showSecrets = false
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var cacheDirectory: URL? = Matcher.defaultCacheDirectory
    /// Where layers already read and the images' findings are recorded. `.inRepository`: the store
    /// of the repository at or above the current folder, when there is one (so triage decided on
    /// git findings applies to the same secrets in images); else none.
    public var store: StoreChoice = .inRepository
    /// `--verify`: fail on every secret the store does not know as a false positive or accepted,
    /// rotated ones included: a rebuilt image must hold none of them.
    public var verify = false

    public init(inputs: [String]) { self.inputs = inputs }
}

/// Finds secrets in container images: every file of every layer (those a later layer deletes or
/// overwrites too: they are still in the image), the config (environment, labels, commands, the
/// history with its build arguments), annotations and attestations. Each distinct layer is read
/// once, streamed and decompressed on the fly, on all cores.
public enum ImageScan {
    public static func run(_ options: ImageScanOptions) throws -> ScanResult {
        let started = Date()
        let settings = try Settings.load(workDirectory: nil, configFile: options.configFile)
        var images: [PlatformImage] = []
        var pulled: [URL] = []
        defer { for folder in pulled { try? FileManager.default.removeItem(at: folder) } }
        do {
            for input in options.inputs {
                if !FileManager.default.fileExists(atPath: input), let reference = ImageReference(input) {
                    // A registry reference: pulled into a layout folder of its own, read, then removed.
                    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-pull-\(UUID().uuidString)")
                    pulled.append(folder)
                    try RegistryPull.pull(reference, into: folder, platform: options.platform)
                    images += try ImageLoader.load(folder.path, platform: options.platform)
                } else {
                    images += try ImageLoader.load(input, platform: options.platform)
                }
            }
        } catch let error as ImageError {
            throw KeysealError.image(error.description)
        }
        let matcher = try settings.matcher(cacheDirectory: options.cacheDirectory)
        var summary = ScanSummary()

        // Each layer once, however many images (or platforms) share it; the largest first, so the
        // threads finish together.
        var layers: [ImageLayer] = []
        var seen = Set<String>()
        for image in images {
            for layer in image.layers where seen.insert(layer.key).inserted { layers.append(layer) }
        }
        layers.sort { $0.location.size > $1.location.size }
        let store = try openStore(options.store)
        // The size limit is part of the key: a layer recorded with a file over the limit (noted as not
        // fully scanned) is read again once the limit is raised.
        let rulesHash = StoreSession.recordsKey(rules: settings.rules, allowlistHash: settings.config.secretAllowlistHash,
                                                extra: "-max\(settings.maxBlobSize)")
        var read: [String: LayerResult] = [:]
        var toRead: [ImageLayer] = []
        if let store, !options.showSecrets {
            // A layer recorded under the same rules is not read again (its clear secrets are not
            // kept, so --show-secrets reads every layer).
            let known = try store.scannedLayers(rulesHash: rulesHash)
            let secrets = Dictionary(try store.secrets().map { ($0.fingerprint, $0) }, uniquingKeysWith: { a, _ in a })
            for layer in layers {
                if let key = layer.storeKey, known.contains(key), let stored = try store.layer(key, rulesHash: rulesHash),
                   let result = LayerResult(stored, secrets: secrets) {
                    read[layer.key] = result
                } else {
                    toRead.append(layer)
                }
            }
        } else {
            toRead = layers
        }
        read.merge(try readLayers(toRead, matcher: matcher, settings: settings, options: options)) { a, _ in a }
        if let store {
            for layer in toRead {
                // Recorded with what it left out (too large, a regex limit): reading it again under the
                // same rules and limit would leave out the same, and the report says so either way.
                guard let key = layer.storeKey, let done = read[layer.key] else { continue }
                try store.recordLayer(key, rulesHash: rulesHash, listing: done.storedListing, files: done.files,
                                      bytes: done.bytes, matches: done.hits.map { ($0.finding.path, $0.finding.storedMatch(entryPath: $0.path)) },
                                      secrets: done.hits.map(\.finding.secretRecord))
            }
        }
        summary.blobsFromStore = layers.count - toRead.count

        var findings: [Finding] = []
        var unscanned: [UnscannedBlob] = []
        for layer in read.values {
            summary.blobsScanned += layer.files
            summary.bytesScanned += layer.bytes
            summary.blobsSkippedLarge += layer.tooLarge
        }
        for image in images {
            // The config first: what its rules find there is masked in the instructions reports quote.
            let outside = try scanOutsideLayers(image, matcher: matcher, settings: settings, showSecrets: options.showSecrets)
            let hiding = Hiding(image.layers.map { read[$0.key]?.listing ?? LayerListing() })
            for layer in image.layers {
                guard let done = read[layer.key] else { continue }
                // Allowlisted paths are left out here, not when the layer is read: what the store
                // records of a layer does not depend on a config's path allowlist.
                var layerPlace: [ImagePlace.Visibility: ImagePlace] = [:]
                for hit in done.hits where !settings.allowlist.allowsPath(hit.path) {
                    var finding = hit.finding
                    let visibility = hiding.visibility(of: hit.path, in: layer.index)
                    if layerPlace[visibility] == nil {
                        layerPlace[visibility] = place(image, layer: layer, visibility: visibility, masking: outside.secrets,
                                                       hideAll: outside.encodedInHistory)
                    }
                    finding.image = layerPlace[visibility]
                    findings.append(finding)
                }
                for gap in done.unscanned where !settings.allowlist.allowsPath(gap.path) {
                    unscanned.append(UnscannedBlob(path: gap.path, commit: "", blob: layer.key, reasons: gap.reasons,
                                                   rules: gap.rules.isEmpty ? nil : gap.rules, size: gap.size))
                }
            }
            findings += outside.findings
            unscanned += outside.unscanned
            summary.blobsScanned += outside.scanned
            summary.notes.append("\(image.reference) (\(image.platform)): \(image.layers.count) layer(s)"
                                 + (image.attachments.isEmpty ? "" : ", \(image.attachments.count) attestation(s)"))
        }
        findings.sort { a, b in
            let x = a.image!, y = b.image!  // Safe: every finding of an image scan has its place.
            return (x.image, x.platform, x.layerIndex ?? -1, a.path, a.line, a.column)
                < (y.image, y.platform, y.layerIndex ?? -1, b.path, b.line, b.column)
        }
        if let store {
            let statuses = try store.statuses()
            findings = findings.map { finding in
                var decided = finding
                // Under --verify a rotated secret still fails: the rebuilt image must not hold it.
                let status = statuses[finding.fingerprint] ?? .open
                decided.status = options.verify && status == .rotated ? .open : status
                if options.verify && status == .rotated { decided.triageNote = "rotated, but still in this image" }
                return decided
            }
            let now = Timestamp.iso8601UTC(Int64(Date().timeIntervalSince1970))
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            try store.recordImages(
                images.map { ($0.reference, $0.manifestDigest ?? $0.configDigest, $0.platform) },
                occurrences: findings.compactMap { finding in
                    guard let place = finding.image, let json = try? encoder.encode(place) else { return nil }
                    return ImageOccurrence(fingerprint: finding.fingerprint, image: place.image,
                                           imageDigest: place.imageDigest ?? images.first { $0.reference == place.image && $0.platform == place.platform }?.configDigest ?? "",
                                           platform: place.platform, place: String(decoding: json, as: UTF8.self), path: finding.path,
                                           line: finding.line, column: finding.column, scannedAt: now)
                },
                secrets: findings.map(\.secretRecord))
        } else if options.verify {
            throw KeysealError.usage("--verify checks an image against the store's triage: run it in the repository whose store records the secrets, or give --store")
        }
        summary.findings = findings.count
        summary.secrets = Set(findings.map(\.fingerprint)).count
        summary.blobsNotFullyScanned = unscanned.count
        summary.notFullyScanned = Array(unscanned.prefix(UnscannedBlob.listed))
        summary.durationSeconds = Date().timeIntervalSince(started)
        summary.notes += settings.config.warnings
        var result = ScanResult(summary: summary, findings: findings, rules: settings.rules.map(RuleInfo.init))
        result.origin = .image
        return result
    }

    /// What one layer held: its findings (without their image place, which depends on the image),
    /// its files not fully scanned, and its listing.
    struct LayerResult: Sendable {
        var hits: [(path: String, finding: Finding)] = []
        var unscanned: [(path: String, reasons: [UnscannedReason], rules: [String], size: Int?)] = []
        var listing = LayerListing()
        var files = 0, bytes = 0, tooLarge = 0

        init() {}

        /// A layer as the store recorded it; nil if a secret it names is not in the store.
        init?(_ stored: StoredLayer, secrets: [String: SecretRecord]) {
            for (recordedPath, match) in stored.matches {
                guard let secret = secrets[match.fingerprint] else { return nil }
                // Recorded with the archive member (`file!member`, which keeps two members' identical
                // matches apart); the finding adds the member back from the detail.
                let inner = match.detail?.innerPath.map { "!" + $0 } ?? ""
                let path = inner.isEmpty || !recordedPath.hasSuffix(inner) ? recordedPath : String(recordedPath.dropLast(inner.count))
                hits.append((path, Finding(recorded: secret, commit: "", author: "", email: "", date: "", path: path,
                                           line: match.line, column: match.column, blob: "", pairedWith: match.pairedWith,
                                           detail: match.detail)))
            }
            guard let record = try? JSONDecoder().decode(StoredListing.self, from: Data(stored.listing.utf8)) else { return nil }
            listing = LayerListing(paths: Set(record.paths), whiteouts: Set(record.whiteouts), opaqueFolders: Set(record.opaque),
                                   folders: Set(record.folders))
            unscanned = record.gaps.map { ($0.path, $0.reasons, $0.rules, $0.size) }
            tooLarge = record.gaps.filter { $0.reasons.contains(.tooLarge) }.count
            files = stored.files
            bytes = stored.bytes
        }

        /// The listing and the files left out, as the store keeps them (JSON).
        var storedListing: String {
            let record = StoredListing(paths: listing.paths.sorted(), whiteouts: listing.whiteouts.sorted(),
                                       opaque: listing.opaqueFolders.sorted(), folders: listing.folders.sorted(),
                                       gaps: unscanned.map { .init(path: $0.path, reasons: $0.reasons, rules: $0.rules, size: $0.size) })
            return String(decoding: (try? JSONEncoder().encode(record)) ?? Data(), as: UTF8.self)
        }
    }

    struct StoredListing: Codable {
        struct Gap: Codable {
            let path: String
            let reasons: [UnscannedReason]
            let rules: [String]
            let size: Int?
        }
        let paths: [String]
        let whiteouts: [String]
        let opaque: [String]
        let folders: [String]
        let gaps: [Gap]
    }

    static func openStore(_ choice: StoreChoice) throws -> FindingStore? {
        // Outside a repository, an image scan records nothing unless --store names one.
        let repository = try? Repository(discovering: FileManager.default.currentDirectoryPath)
        return try StoreOpener.open(choice, repository: repository, create: true)
    }

    /// Reads the layers on `options.threads` threads, each layer whole on one thread.
    static func readLayers(_ layers: [ImageLayer], matcher: Matcher, settings: Settings,
                           options: ImageScanOptions) throws -> [String: LayerResult] {
        let results = Mutex<[String: LayerResult]>([:])
        let failure = Mutex<Error?>(nil)
        let next = Atomic<Int>(0)
        let workers = max(1, min(options.threads, layers.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            do {
                let scratch = try matcher.makeScratch()
                while failure.withLock({ $0 == nil }) {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    guard index < layers.count else { break }
                    let layer = layers[index]
                    let result = try readLayer(layer, matcher: matcher, scratch: scratch, settings: settings,
                                               showSecrets: options.showSecrets)
                    results.withLock { $0[layer.key] = result }
                }
            } catch {
                failure.withLock { if $0 == nil { $0 = error } }
            }
        }
        if let error = failure.withLock({ $0 }) {
            if let error = error as? ImageError { throw KeysealError.image(error.description) }
            throw error
        }
        return results.withLock { $0 }
    }

    static func readLayer(_ layer: ImageLayer, matcher: Matcher, scratch: Matcher.Scratch, settings: Settings,
                          showSecrets: Bool) throws -> LayerResult {
        var result = LayerResult()
        result.listing = try LayerReader.read(layer, maxFileSize: settings.maxBlobSize) { entry, content in
            switch content {
            case .tooLarge:
                result.tooLarge += 1
                result.unscanned.append((entry.path, [.tooLarge], [], entry.size))
            case .bytes(let bytes):
                result.files += 1
                result.bytes += bytes.count
                let scan = try matcher.scanBlob(bytes, scratch: scratch)
                let reasons = UnscannedReason.from(scan.gaps)
                if !reasons.isEmpty { result.unscanned.append((entry.path, reasons, scan.regexLimitHits.keys.sorted(), nil)) }
                for finding in try findings(scan.matches, path: entry.path, matcher: matcher, settings: settings,
                                            showSecrets: showSecrets) {
                    result.hits.append((entry.path, finding))
                }
            }
        }
        return result
    }

    /// Findings from a blob's matches, allowlisted secrets left out; the place is filled in later.
    static func findings(_ matches: [EngineMatch], path: String, matcher: Matcher, settings: Settings,
                         showSecrets: Bool) throws -> [Finding] {
        guard !matches.isEmpty else { return [] }
        let prints = try SecretText.identify(matches, rules: matcher.rules)
        var out: [Finding] = []
        for (k, match) in matches.enumerated() {
            if settings.allowlist.allowsSecret(String(decoding: match.secret, as: UTF8.self)) { continue }
            out.append(Finding(rule: matcher.rules[match.rule], match: match, fingerprint: prints[k].fingerprint,
                               pairedWith: match.pairedWith.map { prints[$0].fingerprint }, commit: "", author: nil,
                               path: path, blob: "", showSecret: showSecrets))
        }
        return out
    }

    /// What each path's later layers do to it, for one image: for every path a layer deletes (a
    /// whiteout), empties (an opaque folder), replaces with a file or link, or replaces with a
    /// folder, the highest layer index that does. Built once per image, so deciding a finding's
    /// visibility costs one lookup per folder above its file, whatever the number of layers.
    struct Hiding {
        var deleted: [String: Int] = [:]
        var emptied: [String: Int] = [:]
        var replaced: [String: Int] = [:]
        var folders: [String: Int] = [:]

        init(_ listings: [LayerListing]) {
            for (index, listing) in listings.enumerated() {
                for path in listing.whiteouts { deleted[path] = index }
                for folder in listing.opaqueFolders { emptied[folder] = index }
                for path in listing.paths { if listing.folders.contains(path) { folders[path] = index } else { replaced[path] = index } }
            }
        }

        /// Whether a file of layer `index` is what a container sees, or a later layer deleted or
        /// replaced it or a folder above it (it is still in the image either way).
        func visibility(of path: String, in index: Int) -> ImagePlace.Visibility {
            func later(_ table: [String: Int], _ key: Substring) -> Bool { (table[String(key)] ?? -1) > index }
            let whole = Substring(path)
            if later(deleted, whole) || later(folders, whole) { return .deleted }
            var cursor = path.startIndex
            while let slash = path[cursor...].firstIndex(of: "/") {
                let folder = path[..<slash]
                if later(deleted, folder) || later(emptied, folder) || later(replaced, folder) { return .deleted }
                cursor = path.index(after: slash)
            }
            return later(replaced, whole) ? .overwritten : .visible
        }
    }

    static func place(_ image: PlatformImage, layer: ImageLayer?, visibility: ImagePlace.Visibility?,
                      source: ImagePlace.Source = .layer, entry: String? = nil, masking secrets: [String] = [],
                      hideAll: Bool = false) -> ImagePlace {
        ImagePlace(image: image.reference, imageDigest: image.manifestDigest, platform: image.platform, source: source,
                   layerIndex: layer?.index, layerDigest: layer?.digest, diffID: layer?.diffID,
                   instruction: layer?.instruction.map {
                       hideAll ? (String($0.prefix { $0 != " " }) + " … (not shown: the history holds an encoded secret)")
                           : masked($0, secrets: secrets)
                   },
                   visibility: visibility, entry: entry)
    }

    /// An instruction as reports quote it: every secret found in the config's texts replaced by `…`,
    /// and cut at 300 characters.
    static func masked(_ instruction: String, secrets: [String]) -> String {
        var text = instruction
        for secret in secrets where !secret.isEmpty { text = text.replacingOccurrences(of: secret, with: "…") }
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }

    /// The config's values and history, annotations, and attestations: one text per entry, each
    /// scanned on its own line(s) so a finding names its entry.
    static func scanOutsideLayers(_ image: PlatformImage, matcher: Matcher, settings: Settings, showSecrets: Bool)
        throws -> (findings: [Finding], unscanned: [UnscannedBlob], scanned: Int, secrets: [String], encodedInHistory: Bool) {
        let scratch = try matcher.makeScratch()
        var findings: [Finding] = []
        var unscanned: [UnscannedBlob] = []
        var document: [UInt8] = []
        var starts: [(line: Int, text: ImageText)] = []
        var line = 1
        for text in image.texts {
            starts.append((line, text))
            document += Array(text.text.utf8)
            document.append(10)
            line += 1 + text.text.utf8.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        }
        let scan = try document.withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch) }
        // Every match, allowlisted or not: none is quoted in an instruction.
        let secrets = Array(Set(scan.matches.map { String(decoding: $0.secret, as: UTF8.self) }))
        // A secret found decoded (base64, percent…) is not in the text as found: no instruction of
        // this image is quoted then, rather than one quoted with it.
        var encodedInHistory = false
        for finding in try Self.findings(scan.matches, path: "", matcher: matcher, settings: settings, showSecrets: showSecrets) {
            // The entry that holds the line: the last one starting at or before it (binary search).
            var low = 0, high = starts.count
            while low < high {
                let middle = (low + high) / 2
                if starts[middle].line <= finding.line { low = middle + 1 } else { high = middle }
            }
            guard low > 0 else { continue }
            let owner = starts[low - 1]
            if finding.encoding != nil, owner.text.source == .history { encodedInHistory = true }
            let source: ImagePlace.Source = owner.text.source == .history ? .history : owner.text.source == .annotation ? .annotation : .config
            findings.append(relocated(finding, path: owner.text.place, line: finding.line - owner.line + 1,
                                      place: place(image, layer: nil, visibility: nil, source: source, entry: owner.text.place)))
        }
        var scanned = 1
        for attachment in image.attachments {
            let name = "attestation \(attachment.digest)"
            if settings.allowlist.allowsPath(name) { continue }
            guard attachment.location.size <= settings.maxBlobSize else {
                unscanned.append(UnscannedBlob(path: name, commit: "", blob: attachment.digest, reasons: [.tooLarge], rules: nil,
                                               size: attachment.location.size))
                continue
            }
            let bytes: [UInt8]
            do {
                bytes = try attachment.bytes(limit: settings.maxBlobSize)
            } catch let error as ImageError {
                throw KeysealError.image(error.description)
            }
            let scan = try bytes.withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch) }
            scanned += 1
            for finding in try Self.findings(scan.matches, path: name, matcher: matcher, settings: settings, showSecrets: showSecrets) {
                var located = finding
                located.image = place(image, layer: nil, visibility: nil, source: .attestation, entry: attachment.digest)
                findings.append(located)
            }
        }
        return (findings, unscanned, scanned, secrets, encodedInHistory)
    }

    /// A config finding at its entry: `path` names the entry, `line` counts within it.
    static func relocated(_ finding: Finding, path: String, line: Int, place: ImagePlace) -> Finding {
        var moved = Finding(rule: finding.rule, provider: finding.provider, description: finding.description,
                            fingerprint: finding.fingerprint, preview: finding.preview, secret: finding.secret, commit: "",
                            author: "", email: "", date: "", path: path, line: line, column: finding.column, blob: "",
                            pairedWith: finding.pairedWith, confidence: finding.confidence)
        moved.identity = finding.identity
        moved.encoding = finding.encoding
        moved.image = place
        return moved
    }
}

extension Finding {
    /// The match as the store keeps it (no secret), found in the file at `entryPath` (the finding's
    /// path adds `!member` inside an archive).
    func storedMatch(entryPath: String) -> StoredMatch {
        let inner = path.count > entryPath.count ? String(path.dropFirst(entryPath.count + 1)) : nil
        return StoredMatch(fingerprint: fingerprint, line: line, column: column, pairedWith: pairedWith,
                           detail: MatchDetail(innerPath: inner, byteOffset: byteOffset, encoding: encoding, identity: identity,
                                               byteLength: byteLength, endLine: endLine, endColumn: endColumn))
    }

    /// The secret as the store keeps it (no value).
    var secretRecord: SecretRecord {
        SecretRecord(fingerprint: fingerprint, rule: rule, provider: provider, description: description, preview: preview,
                     firstSeen: nil, confidence: confidence)
    }
}

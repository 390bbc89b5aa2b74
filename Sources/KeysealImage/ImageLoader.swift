import Crypto
import Foundation

/// Reads an image's structure (index, manifests, configs) from a layout folder or an image tarball:
/// `docker save` in the legacy layout and in Docker 25+'s OCI layout (containerd's store included),
/// or any OCI image layout. Layers are not read here: `LayerReader` streams them.
public enum ImageLoader {
    /// Indexes, manifests and configs are a few KiB; a document past this is an attack.
    static let documentLimit = 32 << 20
    /// Nested indexes: Docker writes 2 levels.
    static let depthLimit = 8
    /// Manifests across an input: real multi-platform images have tens.
    static let manifestLimit = 4096
    static let layerLimit = 1024

    public static func load(_ input: String, platform: PlatformFilter = .all) throws -> [PlatformImage] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isFolder) else {
            throw ImageError.notAnImage(input, why: "no such file or folder")
        }
        let store: BlobStore
        if isFolder.boolValue {
            store = BlobStore(input: input, backing: .folder(input))
        } else {
            store = BlobStore(input: input, backing: .tarball(try TarIndex(file: RandomAccessFile(path: input))))
        }
        let name = LayoutPath.split(input.hasSuffix("/") ? String(input.dropLast()) : input).name
        var images: [PlatformImage]
        let index = try store.locate("index.json"), manifest = try store.locate("manifest.json")
        if index != nil || manifest != nil {
            images = try index.map { try fromIndex($0, store: store, name: name, platform: platform) } ?? []
            // Docker 25+ writes both; `docker load` of older engines reads manifest.json. An image
            // only manifest.json names (a tarball that shows one image to one reader and another to
            // the other) is read too.
            if let manifest {
                let known = Set(images.map(\.configDigest))
                images += try fromDockerManifest(manifest, store: store, name: name).filter { !known.contains($0.configDigest) }
            }
        } else {
            throw ImageError.notAnImage(input, why: "it has neither index.json (an OCI layout) nor manifest.json (docker save)")
        }
        if images.isEmpty { throw ImageError.notAnImage(input, why: "it lists no image") }
        let available = images.map(\.platform)
        images = images.filter { platform.accepts($0.platform) }
        if images.isEmpty, case .only(let wanted) = platform {
            throw ImageError.notAnImage(input, why: "it has no image for platform \(wanted) (it has \(Set(available).sorted().joined(separator: ", ")))")
        }
        return images
    }

    // MARK: OCI layout (and Docker 25+ `docker save`)

    static func fromIndex(_ location: BlobLocation, store: BlobStore, name: String, platform: PlatformFilter = .all) throws -> [PlatformImage] {
        let index = try BlobStore.object(try location.readAll(limit: documentLimit, what: "index.json"), what: "index.json")
        var found: [(descriptor: [String: Any], manifest: [String: Any], name: String, annotations: [ImageText])] = []
        var attestations: [String: [ImageAttachment]] = [:]
        var visited = 0
        var skippedPlatforms: [String] = []
        var seenManifests = Set<String>()

        func walk(_ document: [String: Any], what: String, depth: Int, name: String, annotations: [ImageText]) throws {
            guard depth <= depthLimit else { throw ImageError.tooLarge(what, why: "indexes nest more than \(depthLimit) deep") }
            guard let descriptors = document["manifests"] as? [[String: Any]] else {
                throw ImageError.malformed(what, why: "no manifests list")
            }
            let own = texts(annotations: document["annotations"], place: what)
            for (position, descriptor) in descriptors.enumerated() {
                visited += 1
                guard visited <= manifestLimit else { throw ImageError.tooLarge(what, why: "more than \(manifestLimit) manifests") }
                guard let digest = descriptor["digest"] as? String else {
                    throw ImageError.malformed(what, why: "manifests[\(position)] has no digest")
                }
                let notes = descriptor["annotations"] as? [String: Any] ?? [:]
                let imageName = (notes["io.containerd.image.name"] as? String) ?? (notes["org.opencontainers.image.ref.name"] as? String).map {
                    // An OCI ref.name is often only the tag.
                    $0.contains(":") || $0.contains("/") ? $0 : "\(name):\($0)"
                } ?? name
                // An attestation as BuildKit writes it: marked, and for no platform. A manifest marked so
                // but for a real platform is read as the image it is.
                let described = (descriptor["platform"] as? [String: Any]).map(ConfigFacts.platform)
                let attestation = notes["vnd.docker.reference.type"] as? String == "attestation-manifest"
                    && (described == nil || described == "unknown/unknown")
                // The same manifest listed twice is read once.
                guard seenManifests.insert(digest).inserted else { continue }
                // A platform not asked for is not read (a registry pull does not fetch it either).
                if !attestation, let described, !platform.accepts(described) {
                    skippedPlatforms.append(described)
                    continue
                }
                // An attestation whose manifest was not saved is skipped: it is optional.
                if attestation, (try? store.blob(digest)) == nil { continue }
                let child = try store.document(digest, what: "manifest")
                let descriptorTexts = texts(annotations: descriptor["annotations"], place: "\(what) manifests[\(position)]")
                if child["manifests"] != nil {
                    try walk(child, what: "index \(digest.prefix(19))", depth: depth + 1, name: imageName,
                             annotations: annotations + own + descriptorTexts)
                } else if attestation {
                    let subject = notes["vnd.docker.reference.digest"] as? String ?? ""
                    for layer in child["layers"] as? [[String: Any]] ?? [] {
                        guard let layerDigest = layer["digest"] as? String else { continue }
                        // An attestation whose blob was not saved is skipped: it is optional.
                        guard let blob = try? store.blob(layerDigest) else { continue }
                        attestations[subject, default: []].append(ImageAttachment(
                            digest: layerDigest, mediaType: layer["mediaType"] as? String ?? "", location: blob))
                    }
                } else {
                    var withDigest = descriptor
                    withDigest["digest"] = digest
                    found.append((withDigest, child, imageName, annotations + own + descriptorTexts))
                }
            }
        }
        try walk(index, what: "index.json", depth: 0, name: name, annotations: [])
        if found.isEmpty, !skippedPlatforms.isEmpty, case .only(let wanted) = platform {
            throw ImageError.notAnImage(location.file.path, why: "it has no image for platform \(wanted) (it has \(Set(skippedPlatforms).sorted().joined(separator: ", ")))")
        }
        return try found.map { entry in
            let digest = entry.descriptor["digest"] as? String ?? ""
            var image = try platformImage(manifest: entry.manifest, digest: digest, descriptor: entry.descriptor,
                                          store: store, name: entry.name, annotations: entry.annotations)
            image.attachments = attestations[digest] ?? []
            return image
        }
    }

    static func platformImage(manifest: [String: Any], digest: String, descriptor: [String: Any], store: BlobStore,
                              name: String, annotations: [ImageText]) throws -> PlatformImage {
        let what = "manifest \(digest.prefix(19))"
        guard let config = manifest["config"] as? [String: Any], let configDigest = config["digest"] as? String else {
            throw ImageError.malformed(what, why: "no config")
        }
        guard let layers = manifest["layers"] as? [[String: Any]] else { throw ImageError.malformed(what, why: "no layers list") }
        guard layers.count <= layerLimit else { throw ImageError.tooLarge(what, why: "more than \(layerLimit) layers") }
        let configDocument = try store.document(configDigest, what: "config")
        let facts = try ConfigFacts(configDocument, what: "config \(configDigest.prefix(19))")
        var imageLayers: [ImageLayer] = []
        for (index, layer) in layers.enumerated() {
            guard let layerDigest = layer["digest"] as? String else { throw ImageError.malformed(what, why: "layers[\(index)] has no digest") }
            imageLayers.append(ImageLayer(
                index: index, digest: layerDigest, diffID: facts.diffIDs[safe: index], mediaType: layer["mediaType"] as? String,
                location: try store.blob(layerDigest), instruction: facts.instructions[safe: index]))
        }
        let platform = (descriptor["platform"] as? [String: Any]).map(ConfigFacts.platform) ?? facts.platform
        return PlatformImage(reference: name, manifestDigest: digest, platform: platform, configDigest: configDigest,
                             layers: imageLayers,
                             texts: facts.texts + annotations + texts(annotations: manifest["annotations"], place: what),
                             attachments: [])
    }

    // MARK: Legacy `docker save`

    static func fromDockerManifest(_ location: BlobLocation, store: BlobStore, name: String) throws -> [PlatformImage] {
        let bytes = try location.readAll(limit: documentLimit, what: "manifest.json")
        guard let entries = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [[String: Any]] else {
            throw ImageError.malformed("manifest.json", why: "not a JSON list of images")
        }
        guard entries.count <= manifestLimit else { throw ImageError.tooLarge("manifest.json", why: "more than \(manifestLimit) images") }
        return try entries.enumerated().map { position, entry in
            let what = "manifest.json[\(position)]"
            guard let configPath = entry["Config"] as? String, let layerPaths = entry["Layers"] as? [String] else {
                throw ImageError.malformed(what, why: "no Config or Layers")
            }
            guard layerPaths.count <= layerLimit else { throw ImageError.tooLarge(what, why: "more than \(layerLimit) layers") }
            guard let configLocation = try store.locate(configPath) else { throw ImageError.missingBlob(configPath) }
            let configBytes = try configLocation.readAll(limit: documentLimit, what: "config")
            let configDigest = BlobStore.digest(of: configBytes, like: "sha256:")
            // Docker 25+ names the config by its digest: check it.
            if let named = digestNamed(by: configPath), named != configDigest {
                throw ImageError.digestMismatch(named, actual: configDigest)
            }
            let facts = try ConfigFacts(try BlobStore.object(configBytes, what: "config \(configPath)"), what: "config \(configPath)")
            var layers: [ImageLayer] = []
            for (index, path) in layerPaths.enumerated() {
                guard let layer = try store.locate(path) else { throw ImageError.missingBlob(path) }
                let named = digestNamed(by: path)
                var imageLayer = ImageLayer(index: index, digest: named ?? facts.diffIDs[safe: index], diffID: facts.diffIDs[safe: index],
                                            mediaType: nil, location: layer, instruction: facts.instructions[safe: index])
                imageLayer.digestIsDiffID = named == nil
                layers.append(imageLayer)
            }
            let tags = entry["RepoTags"] as? [String] ?? []
            return PlatformImage(reference: tags.first ?? name, manifestDigest: nil, platform: facts.platform,
                                 configDigest: configDigest, layers: layers, texts: facts.texts, attachments: [])
        }
    }

    /// `blobs/sha256/HEX` names its own digest.
    static func digestNamed(by path: String) -> String? {
        let parts = (LayoutPath.resolve(path) ?? "").split(separator: "/")
        guard parts.count == 3, parts[0] == "blobs" else { return nil }
        let digest = "\(parts[1]):\(parts[2])"
        return BlobStore.blobPath(digest) != nil ? digest : nil
    }

    static func texts(annotations: Any?, place: String) -> [ImageText] {
        guard let annotations = annotations as? [String: Any] else { return [] }
        return annotations.keys.sorted().compactMap { key in
            (annotations[key] as? String).map { ImageText(source: .annotation, place: "\(place) annotation \(key)", text: "\(key)=\($0)") }
        }
    }
}

/// What keyseal takes from an image config.
struct ConfigFacts {
    var diffIDs: [String] = []
    /// The history entry of each layer, in layer order (entries marked `empty_layer` made none).
    var instructions: [String] = []
    var platform = "unknown"
    var texts: [ImageText] = []

    init(_ config: [String: Any], what: String) throws {
        if let rootfs = config["rootfs"] as? [String: Any] {
            diffIDs = rootfs["diff_ids"] as? [String] ?? []
        }
        platform = Self.platform(config)
        for key in ["config", "container_config"] {
            guard let section = config[key] as? [String: Any] else { continue }
            let prefix = key == "config" ? "" : "container_config "
            for (index, value) in (section["Env"] as? [String] ?? []).enumerated() {
                texts.append(ImageText(source: .config, place: "\(prefix)Env[\(index)]", text: value))
            }
            if let labels = section["Labels"] as? [String: Any] {
                for label in labels.keys.sorted() {
                    guard let value = labels[label] as? String else { continue }
                    texts.append(ImageText(source: .config, place: "\(prefix)Labels[\"\(label)\"]", text: "\(label)=\(value)"))
                }
            }
            for field in ["Entrypoint", "Cmd", "OnBuild"] {
                if let parts = section[field] as? [String], !parts.isEmpty {
                    texts.append(ImageText(source: .config, place: "\(prefix)\(field)", text: parts.joined(separator: field == "OnBuild" ? "\n" : " ")))
                }
            }
            if let health = section["Healthcheck"] as? [String: Any], let test = health["Test"] as? [String] {
                texts.append(ImageText(source: .config, place: "\(prefix)Healthcheck", text: test.joined(separator: " ")))
            }
        }
        let history = config["history"] as? [[String: Any]] ?? []
        for (index, entry) in history.enumerated() {
            let createdBy = entry["created_by"] as? String ?? ""
            let (arguments, command) = Self.buildArguments(createdBy)
            // The instruction reports show: build arguments' values are left out (`NAME=…`).
            if entry["empty_layer"] as? Bool != true {
                instructions.append(Self.shownInstruction(createdBy, arguments: arguments, command: command))
            }
            if !createdBy.isEmpty {
                // Build arguments on lines of their own (each `NAME=value`, as a rule expects an
                // assignment), and the command without them, so a value is found once, at its name.
                for (name, value) in arguments {
                    texts.append(ImageText(source: .history, place: "build argument \(name) (history[\(index)])", text: "\(name)=\(value)"))
                }
                texts.append(ImageText(source: .history, place: "history[\(index)].created_by", text: command))
            }
            if let comment = entry["comment"] as? String, !comment.isEmpty {
                texts.append(ImageText(source: .history, place: "history[\(index)].comment", text: comment))
            }
        }
        // Docker's classic builder left no history for some layers: keep layers and entries aligned.
        if !diffIDs.isEmpty && instructions.count != diffIDs.count { instructions = [] }
    }

    /// `os/architecture[/variant]`, normalised as containerd matches platforms (lower case;
    /// x86_64 is amd64, aarch64 is arm64), so `--platform` cannot be dodged by spelling.
    static func platform(_ facts: [String: Any]) -> String {
        let aliases = ["x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm", "i386": "386"]
        let os = (facts["os"] as? String ?? "unknown").lowercased()
        var architecture = (facts["architecture"] as? String ?? "unknown").lowercased()
        architecture = aliases[architecture] ?? architecture
        if let variant = facts["variant"] as? String, !variant.isEmpty { return "\(os)/\(architecture)/\(variant.lowercased())" }
        return "\(os)/\(architecture)"
    }

    /// A layer's instruction as reports quote it: BuildKit's build arguments with their values left
    /// out (`NAME=…`); when they cannot be told apart from the command, all of it after `|N`.
    static func shownInstruction(_ createdBy: String, arguments: [(String, String)], command: String) -> String {
        let body = createdBy.hasPrefix("RUN ") ? createdBy.dropFirst(4) : Substring(createdBy)
        guard body.hasPrefix("|") else { return createdBy }
        guard command != createdBy else {
            let count = body.dropFirst().prefix { $0.isNumber }
            return "RUN |\(count) … (build arguments and command not shown)"
        }
        return "RUN |\(arguments.count) " + arguments.map { "\($0.0)=…" }.joined(separator: " ") + " "
            + command.replacingOccurrences(of: "RUN ", with: "", options: .anchored)
    }

    /// BuildKit writes a `RUN` that had build arguments as `RUN |2 NAME=value OTHER=value /bin/sh -c …`:
    /// the arguments' values are in the image for anyone to read.
    static func buildArguments(_ createdBy: String) -> (arguments: [(String, String)], command: String) {
        var text = Substring(createdBy)
        let run = text.hasPrefix("RUN ")
        if run { text = text.dropFirst(4) }
        guard text.hasPrefix("|") else { return ([], createdBy) }
        let digits = text.dropFirst().prefix { $0.isNumber }
        guard let count = Int(digits), count > 0, count <= 256 else { return ([], createdBy) }
        var rest = text.dropFirst(1 + digits.count).drop { $0 == " " }
        var found: [(String, String)] = []
        for _ in 0..<count {
            // NAME=value, the value up to the next space (BuildKit quotes none).
            guard let equals = rest.firstIndex(of: "=") else { break }
            let name = rest[..<equals]
            guard !name.isEmpty, !name.contains(" ") else { break }
            let valueEnd = rest[equals...].firstIndex(of: " ") ?? rest.endIndex
            found.append((String(name), String(rest[rest.index(after: equals)..<valueEnd])))
            rest = rest[valueEnd...].drop { $0 == " " }
        }
        return (found, found.count == count ? (run ? "RUN " : "") + String(rest) : createdBy)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

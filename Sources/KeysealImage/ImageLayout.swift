import Crypto
import Foundation

/// One layer of one image, where its bytes are, and what made it.
public struct ImageLayer: Sendable {
    /// 0 for the base layer.
    public let index: Int
    /// The stored blob's digest, checked as it is read; for a legacy `docker save` layer (named by
    /// path), its diff_id, checked when the layer is stored uncompressed (as Docker writes it).
    public let digest: String?
    /// The digest of the uncompressed tar, from the config: what names a layer across images.
    public let diffID: String?
    public let mediaType: String?
    public let location: BlobLocation
    /// The history entry that made the layer (a Dockerfile instruction), when the config has one.
    public let instruction: String?
    /// `digest` is the diff_id (a legacy `docker save` layer, named by path).
    public var digestIsDiffID = false

    public var displayName: String { digest ?? diffID ?? "#\(index)" }
    /// The identity of the layer within a run: its stored blob's digest (two layers naming one
    /// digest are one blob), else (a legacy layer, named by path) where its bytes are, so two
    /// files claiming one diff_id are both read and checked.
    public var key: String {
        if let digest, !digestIsDiffID { return digest }
        return "\(location.file.path)@\(location.offset)"
    }
    /// The identity the store keeps a layer under: its stored digest (or, for a legacy layer named
    /// by path, its diff_id), both checked when the layer is read. Nil when it has neither: such a
    /// layer is read every time.
    public var storeKey: String? { digest }
}

/// Text an image carries outside its layers: config values, history, annotations.
public struct ImageText: Sendable {
    public enum Source: String, Sendable { case config, history, annotation }
    public let source: Source
    /// Where it is: `Env[2]`, `Labels["k"]`, `history[4].created_by`, `build argument NPM_TOKEN (history[4])`.
    public let place: String
    public let text: String
}

/// A document attached to an image: an in-toto attestation (BuildKit's provenance records build arguments).
public struct ImageAttachment: Sendable {
    public let digest: String
    public let mediaType: String
    public let location: BlobLocation
}

/// One platform's image: what a `docker pull` of it gets.
public struct PlatformImage: Sendable {
    public let reference: String
    public let manifestDigest: String?
    /// `os/architecture[/variant]`.
    public let platform: String
    public let configDigest: String
    public let layers: [ImageLayer]
    public let texts: [ImageText]
    public var attachments: [ImageAttachment]
}

/// Which platforms of a multi-platform image to read.
public enum PlatformFilter: Sendable, Equatable {
    case all
    case only(String)

    public init(_ text: String) {
        self = text == "all" ? .all : .only(ConfigFacts.platform(Self.parts(text)))
    }

    static func parts(_ text: String) -> [String: Any] {
        let parts = text.split(separator: "/").map(String.init)
        var facts: [String: Any] = ["os": parts.first ?? "unknown", "architecture": parts.count > 1 ? parts[1] : "unknown"]
        if parts.count > 2 { facts["variant"] = parts[2] }
        return facts
    }

    func accepts(_ platform: String) -> Bool {
        switch self {
        case .all: return true
        case .only(let wanted): return platform == wanted || platform.hasPrefix(wanted + "/")
        }
    }
}

/// Where an image's blobs are: a layout folder, or an image tarball indexed once.
final class BlobStore {
    enum Backing { case folder(String), tarball(TarIndex) }
    let backing: Backing
    let input: String
    private var files: [String: RandomAccessFile] = [:]

    init(input: String, backing: Backing) {
        self.input = input
        self.backing = backing
    }

    /// The file at a path the layout gives, which must stay inside it.
    func locate(_ path: String) throws -> BlobLocation? {
        guard let relative = LayoutPath.resolve(path) else { throw ImageError.outsideLayout(path) }
        switch backing {
        case .tarball(let index):
            return index.locate(relative)
        case .folder(let root):
            let full = root + "/" + relative
            guard FileManager.default.fileExists(atPath: full) else { return nil }
            // A link inside the folder must not lead out of it.
            let real = URL(fileURLWithPath: full).resolvingSymlinksInPath().path
            let realRoot = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
            guard real.hasPrefix(realRoot + "/") else { throw ImageError.outsideLayout(path) }
            if let open = files[real] { return BlobLocation(file: open, offset: 0, size: open.size) }
            let file = try RandomAccessFile(path: real)
            files[real] = file
            return BlobLocation(file: file, offset: 0, size: file.size)
        }
    }

    /// `blobs/ALGORITHM/HEX`, for a digest of the form the OCI spec allows.
    func blob(_ digest: String) throws -> BlobLocation {
        guard let path = Self.blobPath(digest) else { throw ImageError.malformed("digest", why: "\(digest.prefix(100)) is not sha256:HEX or sha512:HEX") }
        guard let location = try locate(path) else { throw ImageError.missingBlob(digest) }
        return location
    }

    static func blobPath(_ digest: String) -> String? {
        let parts = digest.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, ["sha256": 64, "sha512": 128][String(parts[0])] == parts[1].count,
              parts[1].allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else { return nil }
        return "blobs/\(parts[0])/\(parts[1])"
    }

    /// A JSON document by digest, checked against it.
    func document(_ digest: String, what: String) throws -> [String: Any] {
        let bytes = try blob(digest).readAll(limit: ImageLoader.documentLimit, what: what)
        let actual = Self.digest(of: bytes, like: digest)
        guard actual == digest else { throw ImageError.digestMismatch(digest, actual: actual) }
        return try Self.object(bytes, what: "\(what) \(digest)")
    }

    static func digest(of bytes: [UInt8], like digest: String) -> String {
        if digest.hasPrefix("sha512:") { return "sha512:" + SHA512.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }
        return "sha256:" + SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    static func object(_ bytes: [UInt8], what: String) throws -> [String: Any] {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw ImageError.malformed(what, why: "not JSON")
        }
        guard let object = value as? [String: Any] else { throw ImageError.malformed(what, why: "not a JSON object") }
        return object
    }
}

extension ImageAttachment {
    /// The attachment's bytes, checked against its digest.
    public func bytes(limit: Int) throws -> [UInt8] {
        let bytes = try location.readAll(limit: limit, what: "attestation \(digest)")
        let actual = BlobStore.digest(of: bytes, like: digest)
        guard actual == digest else { throw ImageError.digestMismatch(digest, actual: actual) }
        return bytes
    }
}

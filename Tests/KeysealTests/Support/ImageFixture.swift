import CZlib
import CZstd
import Crypto
import Foundation

/// Container images written by tests, byte by byte as Docker, BuildKit and containerd write them
/// (tar and JSON), so no daemon is needed.
enum ImageFixture {
    /// A member of a layer's tar.
    struct Member {
        enum Kind { case file, directory, symlink }
        var path: String
        var bytes: [UInt8] = []
        var kind: Kind = .file
        var link = ""

        static func file(_ path: String, _ text: String) -> Member { Member(path: path, bytes: Array(text.utf8)) }
        static func folder(_ path: String) -> Member { Member(path: path, kind: .directory) }
        /// `.wh.NAME` beside NAME: the layer deletes NAME.
        static func whiteout(_ path: String) -> Member {
            let folder = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
            return Member(path: (folder.isEmpty ? "" : folder + "/") + ".wh." + name)
        }
        /// The layer empties `folder` of what lower layers put there.
        static func opaque(_ folder: String) -> Member { Member(path: folder + "/.wh..wh..opq") }
    }

    enum Compression { case none, gzip, zstd }

    struct Layer {
        var members: [Member]
        var compression: Compression = .gzip
        var createdBy = "COPY . /app # buildkit"
        /// Transforms the stored (compressed) bytes before they are named by digest: a broken
        /// layer whose digest still matches.
        var damage: (([UInt8]) -> [UInt8])? = nil
        /// The layer's tar as given (a hand-made, hostile one), instead of one made from `members`.
        var rawTar: [UInt8]? = nil
    }

    struct Image {
        var layers: [Layer]
        var env: [String] = ["PATH=/usr/local/bin:/usr/bin"]
        var labels: [String: String] = [:]
        /// Extra history entries that make no layer (ENV, ARG, a RUN with build arguments).
        var emptyHistory: [String] = []
        var os = "linux", architecture = "amd64"
    }

    // MARK: tar

    static func tar(_ members: [(path: String, bytes: [UInt8], type: UInt8, link: String)]) -> [UInt8] {
        var out: [UInt8] = []
        for member in members {
            var path = member.path
            if path.utf8.count > 99 {
                // A pax header carries the long path, as Go's archive/tar writes it.
                let record = paxRecord("path", path)
                out += header(name: "PaxHeaders/x", size: record.count, type: UInt8(ascii: "x"), link: "")
                out += padded(record)
                path = String(path.suffix(90))
            }
            out += header(name: path, size: member.bytes.count, type: member.type, link: member.link)
            out += padded(member.bytes)
        }
        return out + [UInt8](repeating: 0, count: 1024)
    }

    static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let body = " \(key)=\(value)\n"
        var length = body.utf8.count + 1
        while "\(length)".utf8.count + body.utf8.count != length { length += 1 }
        return Array("\(length)\(body)".utf8)
    }

    static func header(name: String, size: Int, type: UInt8, link: String) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, _ offset: Int, _ length: Int) {
            for (index, byte) in text.utf8.prefix(length).enumerated() { block[offset + index] = byte }
        }
        put(name, 0, 100)
        put("0000644", 100, 7)
        put("0000000", 108, 7)
        put("0000000", 116, 7)
        put(String(format: "%011o", size), 124, 11)
        put("00000000000", 136, 11)
        block[156] = type
        put(link, 157, 100)
        put("ustar", 257, 5)
        put("00", 263, 2)
        for index in 148..<156 { block[index] = 32 }
        let sum = block.reduce(0) { $0 + Int($1) }
        put(String(format: "%06o", sum), 148, 6)
        block[154] = 0
        return block
    }

    static func padded(_ bytes: [UInt8]) -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
    }

    static func layerTar(_ members: [Member]) -> [UInt8] {
        tar(members.map { member in
            switch member.kind {
            case .file: return (member.path, member.bytes, UInt8(ascii: "0"), "")
            case .directory: return (member.path + "/", [], UInt8(ascii: "5"), "")
            case .symlink: return (member.path, [], UInt8(ascii: "2"), member.link)
            }
        })
    }

    // MARK: compression and digests

    static func gzip(_ input: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        deflateInit2_(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 64)
        var source = input
        let written: Int = source.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = UInt32(outBuffer.count)
                deflate(&stream, Z_FINISH)
                return outBuffer.count - Int(stream.avail_out)
            }
        }
        return Array(output.prefix(written))
    }

    static func zstd(_ input: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let written = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { ZSTD_compress(out.baseAddress, out.count, $0.baseAddress, $0.count, 3) }
        }
        return Array(output.prefix(written))
    }

    static func compress(_ bytes: [UInt8], _ compression: Compression) -> [UInt8] {
        switch compression {
        case .none: return bytes
        case .gzip: return gzip(bytes)
        case .zstd: return zstd(bytes)
        }
    }

    static func digest(_ bytes: [UInt8]) -> String { "sha256:" + SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    static func json(_ value: Any) -> [UInt8] {
        // Safe: tests pass only JSON-compatible values.
        Array(try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]))
    }

    // MARK: images

    /// The blobs of one platform's image: config, layers (stored bytes), manifest.
    struct Built {
        var blobs: [String: [UInt8]] = [:]
        var manifestDigest = ""
        var manifestSize = 0
        var configDigest = ""
        var layerDigests: [String] = []
        var layerTars: [[UInt8]] = []
        var config: [UInt8] = []
        var platform: [String: String] = [:]
    }

    static func build(_ image: Image) -> Built {
        var built = Built()
        var diffIDs: [String] = []
        var history: [[String: Any]] = []
        var layerDescriptors: [[String: Any]] = []
        for entry in image.emptyHistory { history.append(["created_by": entry, "empty_layer": true]) }
        for layer in image.layers {
            let tar = layer.rawTar ?? layerTar(layer.members)
            let stored = (layer.damage ?? { $0 })(compress(tar, layer.compression))
            let digest = self.digest(stored)
            built.blobs[digest] = stored
            built.layerDigests.append(digest)
            built.layerTars.append(tar)
            diffIDs.append(self.digest(tar))
            history.append(["created_by": layer.createdBy])
            let mediaType = ["none": "application/vnd.oci.image.layer.v1.tar", "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
                             "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"]["\(layer.compression)"]!  // Safe: all three named.
            layerDescriptors.append(["mediaType": mediaType, "digest": digest, "size": stored.count])
        }
        var configObject: [String: Any] = ["architecture": image.architecture, "os": image.os,
                                           "config": ["Env": image.env, "Labels": image.labels, "Cmd": ["/app/run"]],
                                           "rootfs": ["type": "layers", "diff_ids": diffIDs], "history": history]
        configObject["created"] = "2026-12-01T00:00:00Z"
        built.config = json(configObject)
        built.configDigest = digest(built.config)
        built.blobs[built.configDigest] = built.config
        let manifest = json(["schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                             "config": ["mediaType": "application/vnd.oci.image.config.v1+json", "digest": built.configDigest,
                                        "size": built.config.count],
                             "layers": layerDescriptors])
        built.manifestDigest = digest(manifest)
        built.manifestSize = manifest.count
        built.blobs[built.manifestDigest] = manifest
        built.platform = ["os": image.os, "architecture": image.architecture]
        return built
    }

    /// An in-toto attestation manifest for `subject`, as BuildKit attaches one, holding `statement`.
    static func attestation(for subject: Built, statement: [String: Any]) -> (blobs: [String: [UInt8]], descriptor: [String: Any]) {
        let body = json(statement)
        let config = json([:] as [String: Any])
        let manifest = json(["schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                             "config": ["mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": config.count],
                             "layers": [["mediaType": "application/vnd.in-toto+json", "digest": digest(body), "size": body.count,
                                         "annotations": ["in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"]]]])
        let descriptor: [String: Any] = ["mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest),
                                         "size": manifest.count, "platform": ["os": "unknown", "architecture": "unknown"],
                                         "annotations": ["vnd.docker.reference.type": "attestation-manifest",
                                                         "vnd.docker.reference.digest": subject.manifestDigest]]
        return ([digest(body): body, digest(config): config, digest(manifest): manifest], descriptor)
    }

    /// An OCI image layout in `folder`: one image, or a multi-platform index of several, with
    /// optional attestations; `nested` puts the platforms' index inside the top index as containerd does.
    @discardableResult
    static func ociLayout(_ folder: URL, images: [Image], name: String = "example.com/team/app:1.0", nested: Bool = false,
                          attest: [String: Any]? = nil) throws -> [Built] {
        let builts = images.map(build)
        var blobs: [String: [UInt8]] = [:]
        var descriptors: [[String: Any]] = []
        for built in builts {
            blobs.merge(built.blobs) { a, _ in a }
            descriptors.append(["mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": built.manifestDigest,
                                "size": built.manifestSize, "platform": built.platform])
        }
        if let attest, let first = builts.first {
            let made = attestation(for: first, statement: attest)
            blobs.merge(made.blobs) { a, _ in a }
            descriptors.append(made.descriptor)
        }
        var top: [[String: Any]]
        if nested || builts.count > 1 || attest != nil {
            let index = json(["schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descriptors])
            blobs[digest(index)] = index
            top = [["mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest(index), "size": index.count,
                    "annotations": ["io.containerd.image.name": name, "org.opencontainers.image.ref.name": "1.0"]]]
        } else {
            var only = descriptors[0]
            only["annotations"] = ["io.containerd.image.name": name]
            top = [only]
        }
        try write(folder, blobs: blobs, index: json(["schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": top]))
        return builts
    }

    static func write(_ folder: URL, blobs: [String: [UInt8]], index: [UInt8]) throws {
        let blobFolder = folder.appendingPathComponent("blobs/sha256")
        try FileManager.default.createDirectory(at: blobFolder, withIntermediateDirectories: true)
        for (digest, bytes) in blobs {
            try Data(bytes).write(to: blobFolder.appendingPathComponent(String(digest.dropFirst(7))))
        }
        try Data(index).write(to: folder.appendingPathComponent("index.json"))
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: folder.appendingPathComponent("oci-layout"))
    }

    /// A folder's files as a tar (an OCI layout as `docker save` of Docker 25+ writes it, with
    /// `manifest.json` added for tools that read only that).
    static func tarFolder(_ folder: URL, to file: URL, dockerManifest: [UInt8]? = nil) throws {
        var members: [(path: String, bytes: [UInt8], type: UInt8, link: String)] = []
        let paths = (FileManager.default.subpaths(atPath: folder.path) ?? []).sorted()
        for path in paths {
            var isFolder: ObjCBool = false
            FileManager.default.fileExists(atPath: folder.appendingPathComponent(path).path, isDirectory: &isFolder)
            if isFolder.boolValue { continue }
            members.append((path, Array(try Data(contentsOf: folder.appendingPathComponent(path))), UInt8(ascii: "0"), ""))
        }
        if let dockerManifest { members.append(("manifest.json", dockerManifest, UInt8(ascii: "0"), "")) }
        try Data(tar(members)).write(to: file)
    }

    /// `docker save` before Docker 25: `<id>/layer.tar`, `<config id>.json`, `manifest.json`.
    static func legacyDockerSave(_ image: Image, to file: URL, tag: String = "example.com/team/app:1.0") throws -> Built {
        var built = build(image)
        var members: [(path: String, bytes: [UInt8], type: UInt8, link: String)] = []
        var layerPaths: [String] = []
        for tar in built.layerTars {
            let id = String(digest(tar).dropFirst(7))
            members.append(("\(id)/VERSION", Array("1.0".utf8), UInt8(ascii: "0"), ""))
            members.append(("\(id)/layer.tar", tar, UInt8(ascii: "0"), ""))
            layerPaths.append("\(id)/layer.tar")
        }
        let configName = String(built.configDigest.dropFirst(7)) + ".json"
        members.append((configName, built.config, UInt8(ascii: "0"), ""))
        members.append(("manifest.json", json([["Config": configName, "RepoTags": [tag], "Layers": layerPaths]]), UInt8(ascii: "0"), ""))
        built.layerDigests = built.layerTars.map(digest)
        try Data(tar(members)).write(to: file)
        return built
    }

    /// Docker 25+'s `docker save`: an OCI layout in a tar plus `manifest.json` naming blobs.
    static func dockerSave25(_ image: Image, to file: URL, scratch: URL, nested: Bool = false) throws {
        let folder = scratch.appendingPathComponent("layout-\(UUID().uuidString)")
        let built = try ociLayout(folder, images: [image], nested: nested)[0]
        let manifest = json([["Config": "blobs/sha256/" + built.configDigest.dropFirst(7), "RepoTags": ["example.com/team/app:1.0"],
                              "Layers": built.layerDigests.map { "blobs/sha256/" + $0.dropFirst(7) }]])
        try tarFolder(folder, to: file, dockerManifest: manifest)
    }
}

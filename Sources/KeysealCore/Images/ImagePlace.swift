import KeysealImage

/// Where in a container image a secret is.
public struct ImagePlace: Sendable, Codable, Hashable {
    public enum Source: String, Sendable, Codable, Hashable {
        /// A file in a layer.
        case layer
        /// The image config: `Env`, `Labels`, `Entrypoint`, `Cmd`, `OnBuild`, `Healthcheck`.
        case config
        /// The config's history: the instructions that built the image, build arguments included.
        case history
        /// Annotations of the index or manifest.
        case annotation
        /// An attached attestation (in-toto provenance, an SBOM).
        case attestation
    }

    /// Whether a layer's file is in the filesystem a container of the image sees.
    public enum Visibility: String, Sendable, Codable, Hashable {
        case visible
        /// A later layer deletes it (a whiteout, an opaque folder, a folder's deletion); still in the
        /// image for anyone who pulls it.
        case deleted
        /// A later layer puts another file at its path; still in the image.
        case overwritten

        /// How reports say a file is hidden but still there; nil when it is visible.
        public var stillInImage: String? {
            switch self {
            case .visible: nil
            case .deleted: "deleted by a later layer, still in the image"
            case .overwritten: "overwritten by a later layer, still in the image"
            }
        }
    }

    /// The image as named (a tag, or the input's name).
    public let image: String
    /// The platform manifest's digest (nil for a legacy `docker save`, which keeps none).
    public let imageDigest: String?
    public let platform: String
    public let source: Source
    /// 0 for the base layer.
    public let layerIndex: Int?
    /// The stored layer blob's digest.
    public let layerDigest: String?
    /// The uncompressed layer's digest, which names it across images.
    public let diffID: String?
    /// The history entry that made the layer: the Dockerfile instruction.
    public let instruction: String?
    public let visibility: Visibility?
    /// For a config, history, annotation or attestation finding: which entry (`Env[2]`,
    /// `build argument NPM_TOKEN (history[7])`, an attestation's digest).
    public let entry: String?

    enum CodingKeys: String, CodingKey {
        case image, platform, source, instruction, visibility, entry
        case imageDigest = "image_digest"
        case layerIndex = "layer_index"
        case layerDigest = "layer_digest"
        case diffID = "diff_id"
    }
}

import Foundation

/// Why an image could not be read. Each names the input, blob or layer at fault, never the content
/// of a scanned file.
public enum ImageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The input is neither an image layout folder, an image tarball, nor a registry reference.
    case notAnImage(String, why: String)
    case unreadable(String, why: String)
    /// A blob a manifest names is not in the layout.
    case missingBlob(String)
    /// A blob's content does not hash to the digest that names it: altered or damaged.
    case digestMismatch(String, actual: String)
    /// A manifest, index or config that is not what its format says.
    case malformed(String, why: String)
    /// A path in a manifest that leaves the layout (`..`, an absolute path, a link out).
    case outsideLayout(String)
    /// A layer whose bytes are not a tar archive (after decompression).
    case notATar(String, why: String)
    /// A gzip or zstd stream that ends early or is corrupt.
    case badCompression(String, why: String)
    /// A size, count or depth past what any real image has.
    case tooLarge(String, why: String)
    /// A registry said no, or could not be reached.
    case registry(String, why: String)

    public var description: String {
        switch self {
        case .notAnImage(let input, let why): return "\(input) is not a container image: \(why)"
        case .unreadable(let input, let why): return "cannot read \(input): \(why)"
        case .missingBlob(let digest): return "the image names blob \(digest), which is not in it"
        case .digestMismatch(let digest, let actual):
            return "blob \(digest) does not match its digest (its content hashes to \(actual)): the image was altered or damaged"
        case .malformed(let what, let why): return "\(what) is malformed: \(why)"
        case .outsideLayout(let path): return "the image names a path outside itself: \(path)"
        case .notATar(let layer, let why): return "layer \(layer) is not a tar archive: \(why)"
        case .badCompression(let layer, let why): return "layer \(layer) cannot be decompressed: \(why)"
        case .tooLarge(let what, let why): return "\(what) is too large: \(why)"
        case .registry(let reference, let why): return "registry: \(reference): \(why)"
        }
    }
}

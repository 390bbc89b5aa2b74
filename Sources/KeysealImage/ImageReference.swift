import Foundation

/// `registry.example.com/team/app:1.2`, `team/app@sha256:…`, `alpine`: a reference as Docker reads it.
public struct ImageReference: Sendable, Equatable {
    /// `host[:port]`; Docker Hub is `docker.io`.
    public let registry: String
    public let repository: String
    public let tag: String?
    public let digest: String?

    /// The tag or digest to ask for (`latest` when neither is given).
    public var reference: String { digest ?? tag ?? "latest" }

    /// As reports name the image.
    public var display: String {
        let name = registry == "docker.io" ? repository : "\(registry)/\(repository)"
        if let digest { return "\(name)@\(digest)" }
        return "\(name):\(tag ?? "latest")"
    }

    /// Where the registry's API is: Docker Hub's is registry-1.docker.io. A registry on this machine
    /// is spoken to over plain http, as Docker does; any other over https.
    public var endpoint: String {
        let host = registry == "docker.io" ? "registry-1.docker.io" : registry
        let bare = host.split(separator: ":").first.map(String.init) ?? host
        let local = ["localhost", "127.0.0.1", "[::1]"].contains(bare)
            || (bare.hasPrefix("127.") && bare.split(separator: ".").count == 4 && bare.allSatisfy { $0.isNumber || $0 == "." })
        return (local ? "http://" : "https://") + host
    }

    /// Nil when `text` is not a reference (a path, a file name, an empty or malformed name).
    public init?(_ text: String) {
        guard !text.isEmpty, text.count <= 512, !text.hasPrefix("/"), !text.hasPrefix("."), !text.hasPrefix("~"),
              !text.contains("\\"), !text.contains(" ") else { return nil }
        var rest = Substring(text)
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            digest = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            guard let digest, digest.hasPrefix("sha256:"), digest.count == 71,
                  digest.dropFirst(7).allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else { return nil }
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
            guard let tag, !tag.isEmpty, tag.count <= 128,
                  tag.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else { return nil }
        }
        var parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, !parts.contains(where: \.isEmpty) else { return nil }
        var registry = "docker.io"
        if parts.count > 1, parts[0].contains(".") || parts[0].contains(":") || parts[0] == "localhost" {
            registry = parts.removeFirst()
        }
        if registry == "docker.io" && parts.count == 1 { parts.insert("library", at: 0) }
        let repository = parts.joined(separator: "/")
        guard repository.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "._-/".contains($0) }) else { return nil }
        // On Docker Hub only with a tag or digest: a missing local path (`dist/oci`, `app.tar`)
        // must be an error, not a pull of whatever someone published under that name.
        if registry == "docker.io", tag == nil, digest == nil { return nil }
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }
}

import Foundation
import KeysealGit

/// The name a repository goes by in rebuild requests and, later, in a shared store: its primary
/// remote's URL normalised (`github.com/team/app` for `git@github.com:team/app.git`,
/// `https://user:pw@GitHub.com/team/app.git` and `ssh://git@github.com/team/app`), or the folder's
/// name when it has no remote. Credentials in a URL never survive normalisation.
public enum RepositoryName {
    public static func of(_ repository: Repository) -> String {
        if let url = try? repository.primaryRemoteURL(), let name = normalise(remoteURL: url) { return name }
        return URL(fileURLWithPath: repository.workDirectory ?? repository.gitDirectory).standardizedFileURL.lastPathComponent
    }

    /// `host[:port]/path` without scheme, user, password, query, fragment or a trailing `.git` or
    /// `/`; the host lower-cased, the path kept as written (paths are case-sensitive on most
    /// servers). A local path stays a path. Nil for an empty or unusable URL.
    public static func normalise(remoteURL raw: String) -> String? {
        var url = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !url.isEmpty, !url.contains(where: { $0.isNewline || $0 == "\0" }) else { return nil }
        var hostAndPath: String
        if let schemeEnd = url.range(of: "://") {
            let scheme = url[..<schemeEnd.lowerBound].lowercased()
            url = String(url[schemeEnd.upperBound...])
            if scheme == "file" { return trimmedPath(url) }
            hostAndPath = url
        } else if let colon = url.firstIndex(of: ":"), !url[..<colon].contains("/") {
            // scp-like `user@host:path`; a Windows drive letter (`C:`) is a local path instead.
            if url.distance(from: url.startIndex, to: colon) == 1 { return trimmedPath(url) }
            hostAndPath = url[..<colon] + "/" + url[url.index(after: colon)...].drop(while: { $0 == "/" })
        } else {
            return trimmedPath(url)
        }
        // Query and fragment carry tokens in some hosting setups; drop them.
        if let cut = hostAndPath.firstIndex(where: { $0 == "?" || $0 == "#" }) { hostAndPath = String(hostAndPath[..<cut]) }
        let slash = hostAndPath.firstIndex(of: "/") ?? hostAndPath.endIndex
        var authority = hostAndPath[..<slash]
        // Credentials: everything up to the last `@` of the authority (a password may hold `@`).
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let host = authority.lowercased()
        guard !host.isEmpty else { return nil }
        let path = trimmedPath(String(hostAndPath[slash...])) ?? ""
        return path.isEmpty ? host : host + "/" + path.drop(while: { $0 == "/" })
    }

    /// The path without trailing `/`, then `.git`, then `/` again. On the UTF-8 bytes, from the end:
    /// linear however many slashes a hostile URL holds (`hasSuffix` on a substring rescans it).
    static func trimmedPath(_ path: String) -> String? {
        let bytes = Array(path.utf8)
        var end = bytes.count
        func dropSlashes() { while end > 0 && bytes[end - 1] == UInt8(ascii: "/") { end -= 1 } }
        dropSlashes()
        if end >= 4, bytes[(end - 4)..<end].elementsEqual(".git".utf8) { end -= 4 }
        dropSlashes()
        return end == 0 ? nil : String(decoding: bytes[..<end], as: UTF8.self)
    }
}

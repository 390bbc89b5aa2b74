import Foundation
import KeysealEngine
import KeysealGit
import KeysealStore

/// Joins the engine's matches with where their blobs stand in history.
struct FindingBuilder {
    let repository: Repository
    let history: HistoryIndex
    let rules: [Rule]
    let settings: Settings
    let showSecrets: Bool

    func findings(from found: [BlobMatches]) throws -> [Finding] {
        var authors: [Int32: Signature] = [:]
        var out: [Finding] = []
        for entry in found.sorted(by: { $0.blob < $1.blob }) {
            let fingerprints = entry.prints.map(\.fingerprint)
            for placement in history.placements[entry.blob] {
                let commit = history.commits[Int(placement.commit)]
                let author: Signature
                if let known = authors[placement.commit] {
                    author = known
                } else {
                    author = try repository.author(of: commit.id)
                    authors[placement.commit] = author
                }
                let path = String(decoding: history.paths[Int(placement.path)], as: UTF8.self)
                if settings.allowlist.allowsPlace(path: path, commit: commit.id.hex) { continue }
                for (k, match) in entry.matches.enumerated() where !Allowlist.heuristicQuietIn(rule: rules[match.rule].id, path: path) {
                    out.append(Finding(rule: rules[match.rule], match: match, fingerprint: fingerprints[k],
                                       pairedWith: match.pairedWith.map { fingerprints[$0] }, commit: commit.id.hex,
                                       author: author, path: path, blob: history.blobs[entry.blob].hex,
                                       showSecret: showSecrets))
                }
            }
        }
        return out
    }

    /// Findings for blobs an earlier scan recorded, placed where this walk found those blobs.
    func findings(fromCached cached: [String: [StoredMatch]], secrets: [String: SecretRecord]) throws -> [Finding] {
        guard !cached.isEmpty else { return [] }
        var out: [Finding] = []
        var authors: [Int32: Signature] = [:]
        for (index, blob) in history.blobs.enumerated() {
            guard let matches = cached[blob.hex] else { continue }
            for placement in history.placements[index] {
                let commit = history.commits[Int(placement.commit)]
                let author = try authors[placement.commit] ?? repository.author(of: commit.id)
                authors[placement.commit] = author
                let path = String(decoding: history.paths[Int(placement.path)], as: UTF8.self)
                if settings.allowlist.allowsPlace(path: path, commit: commit.id.hex) { continue }
                for match in matches {
                    guard let secret = secrets[match.fingerprint] else { continue }
                    if Allowlist.heuristicQuietIn(rule: secret.rule, path: path) { continue }
                    out.append(Finding(recorded: secret, commit: commit.id.hex, author: author.name, email: author.email,
                                       date: Timestamp.iso8601(author), path: path, line: match.line, column: match.column,
                                       blob: blob.hex, pairedWith: match.pairedWith, detail: match.detail))
                }
            }
        }
        return out
    }

    /// Grouped by secret, the secret first seen first; inside a group, oldest first.
    static func ordered(_ out: [Finding]) -> [Finding] {
        var firstSeen: [String: String] = [:]
        for finding in out where (firstSeen[finding.fingerprint] ?? "\u{10FFFF}") > finding.date {
            firstSeen[finding.fingerprint] = finding.date
        }
        return out.sorted {
            let a = firstSeen[$0.fingerprint]!, b = firstSeen[$1.fingerprint]!  // Safe: filled for every finding above.
            if $0.fingerprint != $1.fingerprint { return a != b ? a < b : $0.fingerprint < $1.fingerprint }
            return ($0.date, $0.path, $0.line, $0.column) < ($1.date, $1.path, $1.line, $1.column)
        }
    }
}

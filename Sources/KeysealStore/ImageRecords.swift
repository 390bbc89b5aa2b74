import Foundation

/// A layer as an earlier image scan recorded it: enough to report its findings and to decide what
/// later layers hide, without reading it again.
public struct StoredLayer: Sendable {
    /// The layer's listing, in the form the caller gave (the store does not read it).
    public let listing: String
    public let files: Int
    public let bytes: Int
    public let matches: [(path: String, match: StoredMatch)]
}

/// Where a secret stood in an image an image scan read. The place itself is the caller's JSON.
public struct ImageOccurrence: Sendable, Hashable {
    public let fingerprint: String
    public let image: String
    public let imageDigest: String
    public let platform: String
    public let place: String
    public let path: String
    public let line: Int
    public let column: Int
    public let scannedAt: String

    public init(fingerprint: String, image: String, imageDigest: String, platform: String, place: String, path: String,
                line: Int, column: Int, scannedAt: String) {
        self.fingerprint = fingerprint
        self.image = image
        self.imageDigest = imageDigest
        self.platform = platform
        self.place = place
        self.path = path
        self.line = line
        self.column = column
        self.scannedAt = scannedAt
    }
}

extension FindingStore {
    /// The layers (by diff_id) recorded under this rule set.
    public func scannedLayers(rulesHash: String) throws -> Set<String> {
        var out = Set<String>()
        try connection.prepare("SELECT layer FROM scanned_layers WHERE rules_hash = ?").query([.text(rulesHash)]) { out.insert($0.string(0)) }
        return out
    }

    public func layer(_ layer: String, rulesHash: String) throws -> StoredLayer? {
        var found: (listing: String, files: Int, bytes: Int)?
        try connection.prepare("SELECT listing, files, bytes FROM scanned_layers WHERE layer = ? AND rules_hash = ?")
            .query([.text(layer), .text(rulesHash)]) { found = ($0.string(0), $0.int(1), $0.int(2)) }
        guard let found else { return nil }
        var matches: [(String, StoredMatch)] = []
        try connection.prepare("SELECT path, fingerprint, line, col, paired_with, detail FROM layer_matches WHERE layer = ? AND rules_hash = ?")
            .query([.text(layer), .text(rulesHash)]) { row in
                matches.append((row.string(0), StoredMatch(fingerprint: row.string(1), line: row.int(2), column: row.int(3),
                                                           pairedWith: row.text(4), detail: MatchDetail.from(row.text(5).flatMap { $0.isEmpty ? nil : $0 }))))
            }
        return StoredLayer(listing: found.listing, files: found.files, bytes: found.bytes, matches: matches)
    }

    /// Records a layer read in full, its matches and the secrets they are, in one transaction.
    public func recordLayer(_ layer: String, rulesHash: String, listing: String, files: Int, bytes: Int,
                            matches: [(path: String, match: StoredMatch)], secrets: [SecretRecord]) throws {
        try connection.transaction {
            try connection.prepare("""
                INSERT INTO scanned_layers (layer, rules_hash, listing, files, bytes) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (layer, rules_hash) DO UPDATE SET listing = excluded.listing, files = excluded.files, bytes = excluded.bytes
                """)
                .run([.text(layer), .text(rulesHash), .text(listing), .int(Int64(files)), .int(Int64(bytes))])
            let insert = try connection.prepare("""
                INSERT INTO layer_matches (layer, rules_hash, path, fingerprint, line, col, paired_with, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """)
            for (path, m) in matches {
                try insert.run([.text(layer), .text(rulesHash), .text(path), .text(m.fingerprint), .int(Int64(m.line)),
                                // Two matches of one secret in a binary differ only in their byte offset, in the detail.
                                .int(Int64(m.column)), m.pairedWith.map { .text($0) } ?? .null, .text(m.detail?.json ?? "")])
            }
            try upsertSecrets(secrets)
        }
    }

    /// Replaces what the store says of these images (each image, digest and platform scanned) with
    /// what this scan found in them, and records the secrets, in one transaction.
    public func recordImages(_ images: [(image: String, imageDigest: String, platform: String)], occurrences: [ImageOccurrence],
                             secrets: [SecretRecord]) throws {
        try connection.transaction {
            let clear = try connection.prepare("DELETE FROM image_occurrences WHERE image = ? AND image_digest = ? AND platform = ?")
            for image in images { try clear.run([.text(image.image), .text(image.imageDigest), .text(image.platform)]) }
            try upsertSecrets(secrets)
            let insert = try connection.prepare("""
                INSERT INTO image_occurrences (fingerprint, image, image_digest, platform, place, path, line, col, scanned_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """)
            for o in occurrences {
                try insert.run([.text(o.fingerprint), .text(o.image), .text(o.imageDigest), .text(o.platform), .text(o.place),
                                .text(o.path), .int(Int64(o.line)), .int(Int64(o.column)), .text(o.scannedAt)])
            }
        }
    }

    /// Every image occurrence recorded, by fingerprint.
    public func imageOccurrences() throws -> [String: [ImageOccurrence]] {
        var out: [String: [ImageOccurrence]] = [:]
        try connection.prepare("""
            SELECT fingerprint, image, image_digest, platform, place, path, line, col, scanned_at FROM image_occurrences
            ORDER BY image, platform, path, line
            """).query { row in
            let occurrence = ImageOccurrence(fingerprint: row.string(0), image: row.string(1), imageDigest: row.string(2),
                                             platform: row.string(3), place: row.string(4), path: row.string(5), line: row.int(6),
                                             column: row.int(7), scannedAt: row.string(8))
            out[occurrence.fingerprint, default: []].append(occurrence)
        }
        return out
    }
}

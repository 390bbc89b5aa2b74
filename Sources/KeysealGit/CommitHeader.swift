import CGit2
import Foundation

extension Repository {
    /// What the history walk needs of a commit (tree, parents, committer time), read from the raw
    /// object (from its pack by `packs` when it can): libgit2's full parse also copies the message and
    /// both signatures, for every commit of the history. Only the canonical header git writes is read here (`tree`, `parent`s, `author`
    /// lines, then a `committer` line ending in a decimal time and a +hhmm zone); anything else
    /// goes to libgit2's parser, so both always agree.
    func commitForWalk(_ id: ObjectID, odb: OpaquePointer, packs: PackObjects? = nil) throws -> CommitInfo {
        if let packs, let parsed = packs.whole(id, type: 1, { Self.parseCommitHeader($0, id: id) }), let info = parsed {
            return info
        }
        var oid = id.gitOID
        var object: OpaquePointer?
        guard git_odb_read(&object, odb, &oid) >= 0, let read = object else { return try commit(id) }
        defer { git_odb_object_free(read) }
        guard git_odb_object_type(read) == GIT_OBJECT_COMMIT else { return try commit(id) }
        let bytes = UnsafeRawBufferPointer(start: git_odb_object_data(read), count: git_odb_object_size(read))
        guard let info = Self.parseCommitHeader(bytes, id: id) else { return try commit(id) }
        return info
    }

    /// The canonical header's fields, or nil for anything else.
    static func parseCommitHeader(_ bytes: UnsafeRawBufferPointer, id: ObjectID) -> CommitInfo? {
        var p = 0
        func line(startingWith prefix: StaticString) -> Bool {
            let count = prefix.utf8CodeUnitCount
            guard p + count <= bytes.count, memcmp(bytes.baseAddress! + p, prefix.utf8Start, count) == 0 else { return false }
            return true
        }
        /// `<prefix><40 lowercase hex>\n` at p.
        func idLine(_ prefix: StaticString) -> ObjectID? {
            let count = prefix.utf8CodeUnitCount
            guard line(startingWith: prefix), p + count + 41 <= bytes.count, bytes[p + count + 40] == 0x0a else { return nil }
            // Two ids a commit or so, for every commit of the history: decoded on the stack.
            let id: ObjectID? = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { raw in
                for k in 0..<20 {
                    guard let high = hexDigit(bytes[p + count + 2 * k]), let low = hexDigit(bytes[p + count + 2 * k + 1]) else { return nil }
                    raw[k] = high << 4 | low
                }
                return ObjectID(rawBytes: UnsafeRawPointer(raw.baseAddress!))  // Safe: 20 bytes, just written.
            }
            if id != nil { p += count + 41 }
            return id
        }
        guard !bytes.isEmpty, let tree = idLine("tree ") else { return nil }
        var parents: [ObjectID] = []
        while line(startingWith: "parent ") {
            guard let parent = idLine("parent ") else { return nil }
            parents.append(parent)
        }
        // One author line or more: libgit2 parses the first (refusing the commit when it does not
        // hold together) and skips the others; then the committer's.
        guard line(startingWith: "author "), let authorEnd = memchr(bytes.baseAddress! + p, 0x0a, bytes.count - p) else { return nil }
        let firstAuthorEnd = UnsafeRawPointer(authorEnd) - bytes.baseAddress!
        guard signatureTime(bytes, p..<firstAuthorEnd) != nil else { return nil }
        p = firstAuthorEnd + 1
        while line(startingWith: "author ") {
            guard let end = memchr(bytes.baseAddress! + p, 0x0a, bytes.count - p) else { return nil }
            p = UnsafeRawPointer(end) - bytes.baseAddress! + 1
        }
        guard line(startingWith: "committer "),
              let newline = memchr(bytes.baseAddress! + p, 0x0a, bytes.count - p),
              let time = signatureTime(bytes, p..<(UnsafeRawPointer(newline) - bytes.baseAddress!))
        else { return nil }
        return CommitInfo(id: id, tree: tree, parents: parents, time: time)
    }

    /// The time of a signature line as git writes it, "... <email> 1700000000 +0000": a '<' before
    /// the line's last '>' (libgit2 refuses the commit without one), a space, decimal digits, a space,
    /// a sign and four digits ending the line. nil for anything else (libgit2 then parses the commit).
    static func signatureTime(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) -> Int64? {
        var close = line.upperBound - 1
        while close > line.lowerBound, bytes[close] != 0x3e { close -= 1 }
        guard close > line.lowerBound, bytes[close] == 0x3e, close + 2 < line.upperBound, bytes[close + 1] == 0x20,
              (line.lowerBound..<close).contains(where: { bytes[$0] == 0x3c })
        else { return nil }
        var q = close + 2
        var time: Int64 = 0
        let digits = q
        while q < line.upperBound, bytes[q] >= 0x30, bytes[q] <= 0x39, q - digits < 18 {
            time = time * 10 + Int64(bytes[q] - 0x30)
            q += 1
        }
        guard q > digits, q + 6 == line.upperBound, bytes[q] == 0x20, bytes[q + 1] == 0x2b || bytes[q + 1] == 0x2d,
              (q + 2..<line.upperBound).allSatisfy({ bytes[$0] >= 0x30 && bytes[$0] <= 0x39 })
        else { return nil }
        return time
    }

    @inline(__always)
    private static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    /// The repository's object database handle, for `commitForWalk`; freed by the caller with `git_odb_free`.
    func objectDatabase() throws -> OpaquePointer {
        var odb: OpaquePointer?
        try check(git_repository_odb(&odb, handle), "git_repository_odb")
        return odb!  // Safe: success sets the out pointer.
    }
}

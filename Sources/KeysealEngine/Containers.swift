import CZlib
import Foundation

/// What a blob turned out to be.
public enum BlobKind: Sendable {
    case text
    /// Not text: its printable runs were scanned.
    case binary
    /// A zip, tar or gzip file: its members were scanned.
    case archive
}

/// Bounds on opening archives inside one blob (all levels of nesting together).
struct ArchiveBudget {
    static let maxDepth = 3
    /// A member larger than this is not read (a deflated one is read up to it).
    static let maxMemberBytes = 32 << 20
    /// Member bytes one blob may produce, over all members and levels.
    static let maxBytes = 128 << 20
    static let maxMembers = 5_000
    /// A member's path (GNU long name, pax `path`) is cut at this many bytes.
    static let maxNameBytes = 4096
    /// A pax extended header larger than this is not read (its member keeps its ustar name and size).
    static let maxPaxBytes = 1 << 20

    var bytesLeft = maxBytes
    var membersLeft = maxMembers
    /// Set when a bound stopped the opening of some member, or a member could not be read (malformed
    /// header, encrypted, zip64, unknown method, overlapping data, corrupt deflate stream).
    var truncated = false
    /// Inflated member bytes alive right now, and the most alive at once: members are scanned as they
    /// are produced, so this stays at one member per nesting level.
    var heldBytes = 0
    var peakHeldBytes = 0

    /// Member bytes produced so far (what the budget was charged).
    var bytesCharged: Int { Self.maxBytes - bytesLeft }
}

/// A file inside an archive. `bytes` is valid only during the call that hands the member over.
struct ArchiveMember {
    let path: String
    let bytes: UnsafeBufferPointer<UInt8>
}

enum Containers {
    /// NUL within the first 8000 bytes marks a binary blob, as git itself decides.
    static let binaryProbe = 8000
    static let minimumRun = 8

    static func isBinary(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let probe = min(bytes.count, binaryProbe)
        return probe > 0 && memchr(bytes.baseAddress!, 0, probe) != nil
    }

    enum Format { case zip, gzip, tar }

    /// A tar is recognised by its first header (`ustar` magic and a valid checksum), so text that
    /// happens to hold `ustar` at offset 257 is still scanned as text.
    static func format(_ bytes: UnsafeBufferPointer<UInt8>) -> Format? {
        if bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4b && bytes[2] == 0x03 && bytes[3] == 0x04 { return .zip }
        if bytes.count >= 18 && bytes[0] == 0x1f && bytes[1] == 0x8b && bytes[2] == 8 { return .gzip }
        if bytes.count >= 512 && bytes[257] == 0x75 && bytes[258] == 0x73 && bytes[259] == 0x74 && bytes[260] == 0x61
            && bytes[261] == 0x72 && tarChecksumValid(UnsafeBufferPointer(rebasing: bytes[0..<512])) { return .tar }
        return nil
    }

    // MARK: - Printable runs

    /// The printable runs of at least 8 bytes (as `strings` finds them), one per line, and where
    /// each run starts in the blob.
    static func printableRuns(_ bytes: UnsafeBufferPointer<UInt8>) -> (text: [UInt8], starts: [(text: Int, blob: Int)]) {
        var text: [UInt8] = []
        var starts: [(Int, Int)] = []
        var runStart = -1
        func close(_ end: Int) {
            if runStart >= 0 && end - runStart >= minimumRun {
                starts.append((text.count, runStart))
                text.append(contentsOf: bytes[runStart..<end])
                text.append(0x0a)
            }
            runStart = -1
        }
        for i in 0..<bytes.count {
            let byte = bytes[i]
            if (byte >= 0x20 && byte < 0x7f) || byte == 0x09 {
                if runStart < 0 { runStart = i }
            } else {
                close(i)
            }
        }
        close(bytes.count)
        return (text, starts)
    }

    /// The blob offset of `textOffset` in the text `printableRuns` built.
    static func blobOffset(_ textOffset: Int, in starts: [(text: Int, blob: Int)]) -> Int {
        var low = 0, high = starts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if starts[mid].text <= textOffset { low = mid } else { high = mid - 1 }
        }
        return starts.isEmpty ? textOffset : starts[low].blob + (textOffset - starts[low].text)
    }

    // MARK: - Archives

    /// Hands each member to `body` as it is read, so at most one member's bytes (per nesting level)
    /// are alive at a time; `body` gets the budget back to open nested archives with. Returns false
    /// when the archive cannot be opened at all (no end-of-central-directory, zip64 or multi-disk zip,
    /// gzip whose stream does not start): the caller then scans the bytes as they are.
    static func forEachMember(_ bytes: UnsafeBufferPointer<UInt8>, format: Format, budget: inout ArchiveBudget,
                              _ body: (ArchiveMember, inout ArchiveBudget) throws -> Void) rethrows -> Bool {
        switch format {
        case .zip: return try forEachZipMember(bytes, budget: &budget, body)
        case .tar:
            try forEachTarMember(bytes, budget: &budget, body)
            return true
        case .gzip:
            guard budget.membersLeft > 0, budget.bytesLeft > 0 else {
                budget.truncated = true
                return true
            }
            let limit = min(ArchiveBudget.maxMemberBytes, budget.bytesLeft)
            guard let (inflated, complete) = inflate(bytes, raw: false, expected: nil, limit: limit) else { return false }
            try hand(inflated, path: "", complete: complete, budget: &budget, body)
            return true
        }
    }

    /// For tests and fuzzing: every member of an archive blob (copied), the budget afterwards, and
    /// whether the archive could be opened. Nil when the bytes are not an archive.
    static func members(_ bytes: [UInt8]) -> (members: [(path: String, bytes: [UInt8])], budget: ArchiveBudget, opened: Bool)? {
        bytes.withUnsafeBufferPointer { buffer in
            guard let format = format(buffer) else { return nil }
            var budget = ArchiveBudget()
            var out: [(String, [UInt8])] = []
            let opened = forEachMember(buffer, format: format, budget: &budget) { member, _ in
                out.append((member.path, Array(member.bytes)))
            }
            return (out, budget, opened)
        }
    }

    /// Charges `count` bytes and one member; false (and truncated) when a bound is reached.
    static func take(_ count: Int, budget: inout ArchiveBudget) -> Bool {
        guard budget.membersLeft > 0, count <= ArchiveBudget.maxMemberBytes, count <= budget.bytesLeft else {
            budget.truncated = true
            return false
        }
        budget.membersLeft -= 1
        budget.bytesLeft -= count
        return true
    }

    /// Charges what inflating produced (never more than the budget left: the limit it was inflated
    /// to) and hands it to `body` while it is alive.
    private static func hand(_ inflated: [UInt8], path: String, complete: Bool, budget: inout ArchiveBudget,
                             _ body: (ArchiveMember, inout ArchiveBudget) throws -> Void) rethrows {
        if !complete { budget.truncated = true }
        budget.membersLeft -= 1
        budget.bytesLeft -= inflated.count
        budget.heldBytes += inflated.count
        budget.peakHeldBytes = max(budget.peakHeldBytes, budget.heldBytes)
        defer { budget.heldBytes -= inflated.count }
        try inflated.withUnsafeBufferPointer { try body(ArchiveMember(path: path, bytes: $0), &budget) }
    }

    static func le16(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
    static func le32(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> Int { le16(b, at) | le16(b, at + 2) << 16 }

    // MARK: - Zip

    /// One central-directory entry that will be read.
    private struct ZipEntry {
        let name: String
        let method: Int
        let size: Int
        let local: Int
        let dataStart: Int
        let compressed: Int
    }

    /// Zip members from the central directory (sizes in local headers may be deferred to a data
    /// descriptor). Stored and deflated members are read; encrypted, zip64 and other methods are not
    /// (truncated). A stored member must have compressed == size; members whose local header and data
    /// overlap another's, or reach into the central directory, are refused (truncated): one stretch of
    /// bytes is read once.
    static func forEachZipMember(_ b: UnsafeBufferPointer<UInt8>, budget: inout ArchiveBudget,
                                 _ body: (ArchiveMember, inout ArchiveBudget) throws -> Void) rethrows -> Bool {
        guard b.count >= 22 else { return false }
        var eocd = -1
        var i = b.count - 22
        let lowest = max(0, b.count - 22 - 65_535)
        while i >= lowest {
            if b[i] == 0x50 && b[i + 1] == 0x4b && b[i + 2] == 0x05 && b[i + 3] == 0x06 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { return false }
        let disk = le16(b, eocd + 4), directoryDisk = le16(b, eocd + 6)
        let entriesHere = le16(b, eocd + 8), entries = le16(b, eocd + 10)
        let directorySize = le32(b, eocd + 12), directoryStart = le32(b, eocd + 16)
        // Zip64 (0xffff entries, 0xffffffff offsets) and multi-disk archives are not read.
        guard disk == 0, directoryDisk == 0, entriesHere == entries, entries != 0xffff,
              directoryStart <= eocd, directorySize <= eocd - directoryStart, entries * 46 <= directorySize else { return false }
        let directoryEnd = directoryStart + directorySize

        var read: [ZipEntry] = []
        var at = directoryStart
        for _ in 0..<entries {
            guard at + 46 <= directoryEnd, le32(b, at) == 0x0201_4b50 else { budget.truncated = true; break }
            let flags = le16(b, at + 8), method = le16(b, at + 10)
            let compressed = le32(b, at + 20), size = le32(b, at + 24)
            let nameLength = le16(b, at + 28), extraLength = le16(b, at + 30), commentLength = le16(b, at + 32)
            let local = le32(b, at + 42)
            let next = at + 46 + nameLength + extraLength + commentLength
            guard next <= directoryEnd else { budget.truncated = true; break }
            let nameBytes = b[(at + 46)..<(at + 46 + min(nameLength, ArchiveBudget.maxNameBytes))]
            let isDirectory = nameLength > 0 && b[at + 46 + nameLength - 1] == 0x2f
            at = next
            if isDirectory || compressed == 0 { continue }
            // Encrypted, zip64, an unknown method, a stored member whose two sizes differ, a local
            // header that is not there: not read, so the archive was not fully scanned.
            guard flags & 1 == 0, compressed != 0xffff_ffff, size != 0xffff_ffff, local != 0xffff_ffff,
                  method == 0 || method == 8, method != 0 || compressed == size,
                  local + 30 <= directoryStart, le32(b, local) == 0x0403_4b50 else {
                budget.truncated = true
                continue
            }
            let dataStart = local + 30 + le16(b, local + 26) + le16(b, local + 28)
            guard dataStart <= directoryStart, compressed <= directoryStart - dataStart else {
                budget.truncated = true
                continue
            }
            read.append(ZipEntry(name: String(decoding: nameBytes, as: UTF8.self), method: method, size: size,
                                 local: local, dataStart: dataStart, compressed: compressed))
        }

        // Overlapping members (many entries pointing at one stretch of data, a zip quine): the first
        // by offset is read, the others refused.
        var refused = [Bool](repeating: false, count: read.count)
        var reach = 0
        for k in read.indices.sorted(by: { read[$0].local < read[$1].local }) {
            if read[k].local < reach {
                refused[k] = true
                budget.truncated = true
            } else {
                reach = read[k].dataStart + read[k].compressed
            }
        }

        for (k, entry) in read.enumerated() where !refused[k] {
            let data = UnsafeBufferPointer(rebasing: b[entry.dataStart..<(entry.dataStart + entry.compressed)])
            if entry.method == 0 {
                guard take(entry.size, budget: &budget) else { continue }
                try body(ArchiveMember(path: entry.name, bytes: data), &budget)
            } else {
                guard budget.membersLeft > 0, budget.bytesLeft > 0 else {
                    budget.truncated = true
                    continue
                }
                let limit = min(ArchiveBudget.maxMemberBytes, budget.bytesLeft)
                guard let (inflated, complete) = inflate(data, raw: true, expected: entry.size, limit: limit) else {
                    budget.truncated = true
                    continue
                }
                try hand(inflated, path: entry.name, complete: complete, budget: &budget, body)
            }
        }
        return true
    }

    // MARK: - Tar

    /// The header checksum: the sum of its bytes with the checksum field read as spaces, unsigned
    /// (POSIX) or signed (some old tars), as GNU tar and Python's tarfile accept it.
    static func tarChecksumValid(_ header: UnsafeBufferPointer<UInt8>) -> Bool {
        guard header.count >= 512, let stored = tarNumber(UnsafeBufferPointer(rebasing: header[148..<156])) else { return false }
        var unsigned = 0, signed = 0
        for i in 0..<512 {
            let byte = (148..<156).contains(i) ? 0x20 : header[i]
            unsigned += Int(byte)
            signed += Int(Int8(bitPattern: byte))
        }
        return stored == unsigned || stored == signed
    }

    /// A numeric header field: octal digits between optional leading spaces or NULs and trailing
    /// spaces or NULs (an empty field is 0, as Python's tarfile reads it), or GNU base-256 when the
    /// first byte is 0x80. Nil for anything else: a sign, a non-octal digit, a negative base-256
    /// value, a value that does not fit.
    static func tarNumber(_ field: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let first = field.first else { return nil }
        if first & 0x80 != 0 {
            guard first == 0x80 else { return nil }  // 0xff starts a negative number
            var value = 0
            for byte in field.dropFirst() {
                guard value <= Int.max >> 8 else { return nil }
                value = value << 8 | Int(byte)
            }
            return value
        }
        var i = 0
        while i < field.count && (field[i] == 0x20 || field[i] == 0) { i += 1 }
        var value = 0
        while i < field.count && field[i] >= 0x30 && field[i] <= 0x37 {
            guard value <= Int.max >> 3 else { return nil }
            value = value << 3 | Int(field[i] - 0x30)
            i += 1
        }
        while i < field.count {
            guard field[i] == 0x20 || field[i] == 0 else { return nil }
            i += 1
        }
        return value
    }

    /// Text up to the first NUL, cut at `maxNameBytes`.
    private static func tarText(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> String {
        String(decoding: bytes.prefix(ArchiveBudget.maxNameBytes).prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The `path` and `size` records of a pax extended header (`<length> <key>=<value>\n` each).
    /// Stops at the first malformed record.
    static func paxRecords(_ data: UnsafeBufferPointer<UInt8>) -> (path: String?, size: Int?) {
        var path: String? = nil, size: Int? = nil
        var at = 0
        while at < data.count {
            var length = 0, i = at
            while i < data.count && data[i] >= 0x30 && data[i] <= 0x39 && i - at < 8 {
                length = length * 10 + Int(data[i] - 0x30)
                i += 1
            }
            guard i > at, i < data.count, data[i] == 0x20, length > i - at + 1, length <= data.count - at,
                  data[at + length - 1] == 0x0a else { break }
            let record = data[(i + 1)..<(at + length - 1)]
            if let equals = record.firstIndex(of: 0x3d) {
                let key = record[record.startIndex..<equals], value = record[(equals + 1)...]
                if key.elementsEqual("path".utf8) {
                    path = String(decoding: value.prefix(ArchiveBudget.maxNameBytes), as: UTF8.self)
                } else if key.elementsEqual("size".utf8), !value.isEmpty, value.count <= 18,
                          value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                    size = value.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                }
            }
            at += length
        }
        return (path, size)
    }

    /// Regular members of a ustar/GNU/pax tar, as slices of `b` (nothing is copied). A header with a
    /// bad checksum or size field, or a member running past the end, ends the archive (truncated);
    /// so does a partial trailing block. Every header moves the offset forward by at least 512.
    static func forEachTarMember(_ b: UnsafeBufferPointer<UInt8>, budget: inout ArchiveBudget,
                                 _ body: (ArchiveMember, inout ArchiveBudget) throws -> Void) rethrows {
        var at = 0
        var longName: String? = nil, paxPath: String? = nil, paxSize: Int? = nil
        while true {
            guard at + 512 <= b.count else {
                if at < b.count { budget.truncated = true }
                return
            }
            let header = UnsafeBufferPointer(rebasing: b[at..<(at + 512)])
            if header.allSatisfy({ $0 == 0 }) { return }
            guard tarChecksumValid(header), let headerSize = tarNumber(UnsafeBufferPointer(rebasing: header[124..<136])) else {
                budget.truncated = true
                return
            }
            let type = header[156]
            let regular = type == 0x30 || type == 0 || type == 0x37
            let size = regular ? (paxSize ?? headerSize) : headerSize
            let dataStart = at + 512
            guard size <= b.count - dataStart else {
                budget.truncated = true
                return
            }
            let data = UnsafeBufferPointer(rebasing: b[dataStart..<(dataStart + size)])
            switch type {
            case 0x4c:  // GNU long name: the data is the next member's name
                longName = tarText(data[...])
            case 0x4b, 0x67:  // GNU long link name; pax global header
                break
            case 0x78:  // pax extended header for the next member
                if size <= ArchiveBudget.maxPaxBytes {
                    let records = paxRecords(data)
                    paxPath = records.path ?? paxPath
                    paxSize = records.size ?? paxSize
                }
            default:
                if regular {
                    var name = tarText(header[0..<100])
                    // The prefix field is POSIX ustar's ("ustar\0"); old GNU headers ("ustar  ") keep times there.
                    let prefix = header[262] == 0 ? tarText(header[345..<500]) : ""
                    if !prefix.isEmpty { name = prefix + "/" + name }
                    if take(size, budget: &budget) {
                        try body(ArchiveMember(path: paxPath ?? longName ?? name, bytes: data), &budget)
                    }
                } else if !(0x31...0x36).contains(type) && size > 0 {
                    budget.truncated = true  // sparse, multi-volume, vendor types: their data is not read
                }
                longName = nil
                paxPath = nil
                paxSize = nil
            }
            at = dataStart + size + (512 - size % 512) % 512
        }
    }

    // MARK: - Inflate

    /// zlib inflate: raw deflate (zip), or gzip framing with every concatenated member read in turn,
    /// into at most `limit` bytes. `complete` is false when it stopped at `limit`, at corrupt data, at
    /// input that ends before the stream does, or before trailing bytes that are not another gzip
    /// member (or zero padding). Nil when not one byte could be inflated and the stream is not whole.
    static func inflate(_ input: UnsafeBufferPointer<UInt8>, raw: Bool, expected: Int?, limit: Int) -> (bytes: [UInt8], complete: Bool)? {
        guard input.count <= Int(UInt32.max), limit > 0 else { return nil }
        var stream = z_stream()
        guard inflateInit2_(&stream, raw ? -15 : 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        // Deflate expands at most 1032 times: a declared size larger than that is not believed.
        let plausible = min(expected ?? input.count * 4, input.count * 1032 + 64)
        var output = [UInt8](repeating: 0, count: min(max(plausible, 4096), limit))
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = UInt32(input.count)
        var produced = 0
        var complete = false
        var memberStart = 0  // input offset where the current gzip member began
        while true {
            if produced == output.count {
                let grow = min(output.count, limit - output.count)
                if grow <= 0 { break }
                output.append(contentsOf: repeatElement(0, count: grow))
            }
            let before = (Int(stream.avail_in), produced)
            let status = output.withUnsafeMutableBufferPointer { out -> Int32 in
                // Safe: `output` is never empty (at least one byte above).
                stream.next_out = out.baseAddress! + produced
                stream.avail_out = UInt32(out.count - produced)
                let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                produced = out.count - Int(stream.avail_out)
                return status
            }
            if status == Z_STREAM_END {
                let consumed = input.count - Int(stream.avail_in)
                let rest = UnsafeBufferPointer(rebasing: input[consumed...])
                if !raw && rest.count >= 2 && rest[0] == 0x1f && rest[1] == 0x8b && consumed > memberStart {
                    // Another gzip member follows (`cat a.gz b.gz`): it is part of the same file.
                    // Each member consumed input, so this cannot loop.
                    guard inflateReset(&stream) == Z_OK else { break }
                    memberStart = consumed
                    continue
                }
                complete = raw || rest.allSatisfy { $0 == 0 }
                break
            }
            if status == Z_OK && (Int(stream.avail_in) < before.0 || produced > before.1) { continue }
            // Z_BUF_ERROR with output room left: the input ended first. Anything else: corrupt data.
            if status == Z_BUF_ERROR && produced == output.count { continue }
            break
        }
        if produced == 0 && !complete { return nil }
        output.removeLast(output.count - produced)
        return (output, complete)
    }
}

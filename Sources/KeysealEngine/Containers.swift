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

/// Bounds on opening archives inside one blob.
struct ArchiveBudget {
    static let maxDepth = 3
    static let maxMemberBytes = 32 << 20
    var bytesLeft = 128 << 20
    var membersLeft = 5_000
    /// Set when a bound stopped the opening of some member.
    var truncated = false
}

/// A file inside an archive.
struct ArchiveMember {
    let path: String
    let bytes: [UInt8]
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

    static func format(_ bytes: UnsafeBufferPointer<UInt8>) -> Format? {
        if bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4b && bytes[2] == 0x03 && bytes[3] == 0x04 { return .zip }
        if bytes.count >= 18 && bytes[0] == 0x1f && bytes[1] == 0x8b && bytes[2] == 8 { return .gzip }
        if bytes.count >= 512 && Array(bytes[257..<262]) == Array("ustar".utf8) { return .tar }
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

    static func members(_ bytes: UnsafeBufferPointer<UInt8>, format: Format, budget: inout ArchiveBudget) -> [ArchiveMember] {
        switch format {
        case .zip: return zipMembers(bytes, budget: &budget)
        case .tar: return tarMembers(bytes, budget: &budget)
        case .gzip:
            guard let (inflated, truncated) = inflate(bytes, raw: false, expected: nil,
                                                      limit: min(ArchiveBudget.maxMemberBytes, budget.bytesLeft)) else { return [] }
            budget.truncated = budget.truncated || truncated
            guard take(inflated.count, budget: &budget) else { return [] }
            return [ArchiveMember(path: "", bytes: inflated)]
        }
    }

    static func take(_ count: Int, budget: inout ArchiveBudget) -> Bool {
        guard budget.membersLeft > 0, count <= ArchiveBudget.maxMemberBytes, count <= budget.bytesLeft else {
            budget.truncated = true
            return false
        }
        budget.membersLeft -= 1
        budget.bytesLeft -= count
        return true
    }

    static func le16(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
    static func le32(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> Int { le16(b, at) | le16(b, at + 2) << 16 }

    /// Zip members from the central directory (sizes in local headers may be deferred to a data
    /// descriptor). Stored and deflated members are read; encrypted and zip64 ones are counted out.
    static func zipMembers(_ b: UnsafeBufferPointer<UInt8>, budget: inout ArchiveBudget) -> [ArchiveMember] {
        guard b.count >= 22 else { return [] }
        var eocd = -1
        var i = b.count - 22
        let lowest = max(0, b.count - 22 - 65_535)
        while i >= lowest {
            if b[i] == 0x50 && b[i + 1] == 0x4b && b[i + 2] == 0x05 && b[i + 3] == 0x06 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { return [] }
        let entries = le16(b, eocd + 10)
        var at = le32(b, eocd + 16)
        var out: [ArchiveMember] = []
        for _ in 0..<entries {
            guard at + 46 <= b.count, le32(b, at) == 0x0201_4b50 else { break }
            let flags = le16(b, at + 8), method = le16(b, at + 10)
            let compressed = le32(b, at + 20), size = le32(b, at + 24)
            let nameLength = le16(b, at + 28), extraLength = le16(b, at + 30), commentLength = le16(b, at + 32)
            let local = le32(b, at + 42)
            guard at + 46 + nameLength <= b.count else { break }
            let name = String(decoding: b[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            at += 46 + nameLength + extraLength + commentLength
            if name.hasSuffix("/") || flags & 1 != 0 || compressed == 0xffff_ffff || size == 0 { continue }
            guard local + 30 <= b.count, le32(b, local) == 0x0403_4b50 else { continue }
            let dataStart = local + 30 + le16(b, local + 26) + le16(b, local + 28)
            guard dataStart + compressed <= b.count, take(size, budget: &budget) else { continue }
            let data = UnsafeBufferPointer(rebasing: b[dataStart..<(dataStart + compressed)])
            switch method {
            case 0: out.append(ArchiveMember(path: name, bytes: Array(data)))
            case 8:
                if let (inflated, truncated) = inflate(data, raw: true, expected: size, limit: size) {
                    budget.truncated = budget.truncated || truncated
                    out.append(ArchiveMember(path: name, bytes: inflated))
                }
            default: continue
            }
        }
        return out
    }

    static func tarMembers(_ b: UnsafeBufferPointer<UInt8>, budget: inout ArchiveBudget) -> [ArchiveMember] {
        var out: [ArchiveMember] = []
        var at = 0
        var longName: String? = nil
        while at + 512 <= b.count {
            let header = UnsafeBufferPointer(rebasing: b[at..<(at + 512)])
            if header.allSatisfy({ $0 == 0 }) { break }
            func field(_ range: Range<Int>) -> String {
                String(decoding: header[range].prefix { $0 != 0 }, as: UTF8.self)
            }
            let sizeText = field(124..<136).trimmingCharacters(in: .whitespaces)
            guard let size = Int(sizeText, radix: 8) else { break }
            let type = header[156]
            var name = field(0..<100)
            let prefix = field(345..<500)
            if !prefix.isEmpty { name = prefix + "/" + name }
            let dataStart = at + 512
            guard dataStart + size <= b.count else { break }
            if type == 0x4c {  // GNU long name: the data is the next member's name
                longName = String(decoding: b[dataStart..<(dataStart + size)].prefix { $0 != 0 }, as: UTF8.self)
            } else {
                if (type == 0x30 || type == 0) && take(size, budget: &budget) {
                    out.append(ArchiveMember(path: longName ?? name, bytes: Array(b[dataStart..<(dataStart + size)])))
                }
                longName = nil
            }
            at = dataStart + (size + 511) / 512 * 512
        }
        return out
    }

    /// zlib inflate: raw deflate (zip) or gzip framing, stopped at `limit` bytes (then `truncated`).
    static func inflate(_ input: UnsafeBufferPointer<UInt8>, raw: Bool, expected: Int?, limit: Int) -> (bytes: [UInt8], truncated: Bool)? {
        var stream = z_stream()
        guard inflateInit2_(&stream, raw ? -15 : 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: max(1, min(max(expected ?? input.count * 4, 4096), limit)))
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = UInt32(input.count)
        var produced = 0
        while true {
            if produced == output.count {
                let grow = min(output.count, limit - output.count)
                if grow <= 0 { return (output, true) }
                output.append(contentsOf: [UInt8](repeating: 0, count: grow))
            }
            let status = output.withUnsafeMutableBufferPointer { out -> Int32 in
                // Safe: `output` is never empty (at least one byte above).
                stream.next_out = out.baseAddress! + produced
                stream.avail_out = UInt32(out.count - produced)
                let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                produced = out.count - Int(stream.avail_out)
                return status
            }
            if status == Z_STREAM_END { break }
            if status != Z_OK && status != Z_BUF_ERROR { if produced == 0 { return nil }; break }
            if status == Z_BUF_ERROR && stream.avail_in == 0 { break }
        }
        return (Array(output.prefix(produced)), false)
    }
}

import Foundation

/// One member of a tar archive, as the layer or tarball says it.
public struct TarEntry: Sendable {
    public enum Kind: Sendable { case file, directory, symlink, hardlink, other }
    /// Without a leading `./` or `/`, and without a trailing `/`.
    public let path: String
    public let kind: Kind
    public let size: Int
    public let linkTarget: String
}

/// Reads tar headers (ustar, GNU long names, pax) block by block, for a stream or for an index.
/// It holds only the pending long name or pax fields: memory stays small whatever the archive.
struct TarHeaderDecoder {
    /// A pax or GNU long-name record larger than this is not believed (git and Docker write a few hundred bytes).
    static let extensionLimit = 1 << 20
    /// The longest path kept (Linux's PATH_MAX: no container runtime extracts a longer one); a
    /// longer one is an error, not a silent cut.
    static let pathLimit = 4096

    enum Step {
        case entry(TarEntry)
        /// The next `size` bytes (padded to a block) are a pax or GNU record: pass them to `extensionData`.
        case extensionRecord(size: Int)
        /// Data of a member not listed (a global pax header): skip `size` bytes, padded.
        case skip(size: Int)
        case end
    }

    private var pendingKind: UInt8 = 0
    private var longName: String?
    private var longLink: String?
    private var paxPath: String?
    private var paxLink: String?
    private var paxSize: Int?
    private var zeroBlocks = 0
    let what: String

    init(what: String) { self.what = what }

    mutating func header(_ block: UnsafeRawBufferPointer) throws -> Step {
        precondition(block.count == 512)
        if block.allSatisfy({ $0 == 0 }) {
            zeroBlocks += 1
            return .end
        }
        guard checksumHolds(block) else { throw ImageError.notATar(what, why: "a header's checksum does not hold") }
        let type = block[156]
        let size = try Self.number(block, 124, 12)
        switch type {
        case UInt8(ascii: "x"), UInt8(ascii: "L"), UInt8(ascii: "K"):
            guard size <= Self.extensionLimit else { throw ImageError.notATar(what, why: "an extended header of \(size) bytes") }
            pendingKind = type
            return .extensionRecord(size: size)
        case UInt8(ascii: "g"):
            return .skip(size: size)
        default:
            break
        }
        var name = Self.string(block, 0, 100)
        let magic = Self.string(block, 257, 6)
        if magic == "ustar" {
            let prefix = Self.string(block, 345, 155)
            if !prefix.isEmpty { name = prefix + "/" + name }
        }
        // Go's archive/tar applies a GNU long name after the pax fields: it wins.
        name = longName ?? paxPath ?? name
        let link = longLink ?? paxLink ?? Self.string(block, 157, 100)
        let entrySize = paxSize ?? size
        longName = nil; longLink = nil; paxPath = nil; paxLink = nil; paxSize = nil
        guard name.utf8.count <= Self.pathLimit else { throw ImageError.notATar(what, why: "a path of \(name.utf8.count) bytes") }
        // As Go's archive/tar reads it (Docker and containerd unpack layers with it): only the
        // old type NUL with a trailing slash is a folder by name; links, devices, folders and
        // FIFOs carry no data whatever their size field says; every other type's data is skipped
        // by its size.
        let kind: TarEntry.Kind
        switch type {
        case 0: kind = name.hasSuffix("/") ? .directory : .file
        case UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .file
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "2"): kind = .symlink
        case UInt8(ascii: "1"): kind = .hardlink
        default: kind = .other
        }
        let headerOnly = [UInt8(ascii: "1"), UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "4"), UInt8(ascii: "5"),
                          UInt8(ascii: "6")].contains(type) || kind == .directory
        return .entry(TarEntry(path: Self.normalise(name), kind: kind, size: headerOnly ? 0 : entrySize, linkTarget: link))
    }

    /// The pax or GNU record the last header announced.
    mutating func extensionData(_ bytes: UnsafeRawBufferPointer) throws {
        switch pendingKind {
        case UInt8(ascii: "L"): longName = Self.string(bytes, 0, bytes.count)
        case UInt8(ascii: "K"): longLink = Self.string(bytes, 0, bytes.count)
        default: try pax(bytes)
        }
        pendingKind = 0
    }

    /// `LENGTH KEY=VALUE\n` records; only path, linkpath and size change what keyseal reads.
    private mutating func pax(_ bytes: UnsafeRawBufferPointer) throws {
        // Each pax header replaces the one before it (Go keeps only the last).
        paxPath = nil; paxLink = nil; paxSize = nil
        var position = 0
        while position < bytes.count {
            var length = 0, cursor = position
            while cursor < bytes.count, bytes[cursor] >= 48, bytes[cursor] <= 57, length < Self.extensionLimit {
                length = length * 10 + Int(bytes[cursor] - 48)
                cursor += 1
            }
            guard length > 0, cursor < bytes.count, bytes[cursor] == 32, position + length <= bytes.count,
                  bytes[position + length - 1] == 10 else {
                throw ImageError.notATar(what, why: "a pax record is malformed")
            }
            let record = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(cursor + 1)..<(position + length - 1)]), as: UTF8.self)
            if let equals = record.firstIndex(of: "=") {
                let key = record[..<equals], value = String(record[record.index(after: equals)...])
                switch key {
                case "path": paxPath = value
                case "linkpath": paxLink = value
                case "size":
                    guard let size = Int(value), size >= 0, size < (1 << 52) else {
                        throw ImageError.notATar(what, why: "a pax size is not a plausible number")
                    }
                    paxSize = size
                default: break
                }
            }
            position += length
        }
    }

    private func checksumHolds(_ block: UnsafeRawBufferPointer) -> Bool {
        guard let stored = try? Self.number(block, 148, 8) else { return false }
        var unsigned = 0, signed = 0
        for index in 0..<512 {
            let byte = (148..<156).contains(index) ? 32 : block[index]
            unsigned += Int(byte)
            signed += Int(Int8(bitPattern: byte))
        }
        return stored == unsigned || stored == signed
    }

    /// An octal field, or GNU's base-256 form for sizes past 8 GiB.
    static func number(_ block: UnsafeRawBufferPointer, _ start: Int, _ length: Int) throws -> Int {
        if block[start] & 0x80 != 0 {
            var value = 0
            for index in (start + 1)..<(start + length) {
                guard value < (1 << 52) else { throw ImageError.notATar("tar", why: "a size past any real file") }
                value = value << 8 | Int(block[index])
            }
            return value
        }
        var value = 0, seen = false
        for index in start..<(start + length) {
            let byte = block[index]
            if byte == 0 || (byte == 32 && seen) { break }
            if byte == 32 { continue }
            guard byte >= 48, byte <= 55, value < (1 << 52) else { throw ImageError.notATar("tar", why: "a number field is not octal") }
            value = value * 8 + Int(byte - 48)
            seen = true
        }
        return value
    }

    static func string(_ block: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> String {
        var end = start
        while end < start + length, block[end] != 0 { end += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: block[start..<end]), as: UTF8.self)
    }

    /// `./a/b/`, `/a/b`, `a//b` and `x/../a/b` all name `a/b`, as a container runtime cleans a
    /// member's path before extracting it (a `..` past the root stays at the root).
    static func normalise(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }

    /// Sizes are below 2^52 (checked where they are read), so this cannot overflow.
    static func padded(_ size: Int) -> Int { (size + 511) & ~511 }
}

/// The members of an image tarball (`docker save`, an OCI layout in a tar), by path, without
/// reading their data: each blob is then read at its offset.
final class TarIndex {
    /// Real image tarballs have a few hundred members; this many is an attack.
    static let memberLimit = 1 << 20
    let file: RandomAccessFile
    private(set) var members: [String: (offset: Int, size: Int)] = [:]
    private(set) var links: [String: String] = [:]

    init(file: RandomAccessFile) throws {
        self.file = file
        var decoder = TarHeaderDecoder(what: file.path)
        var offset = 0
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        defer { block.deallocate() }
        var count = 0
        loop: while offset + 512 <= file.size {
            guard try file.read(at: offset, into: block) == 512 else { break }
            offset += 512
            switch try decoder.header(UnsafeRawBufferPointer(block)) {
            case .end:
                break loop
            case .skip(let size):
                offset += TarHeaderDecoder.padded(size)
            case .extensionRecord(let size):
                let record = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 8)
                defer { record.deallocate() }
                let view = UnsafeMutableRawBufferPointer(rebasing: record[0..<size])
                guard try file.read(at: offset, into: view) == size else {
                    throw ImageError.notATar(file.path, why: "it ends inside a header")
                }
                try decoder.extensionData(UnsafeRawBufferPointer(view))
                offset += TarHeaderDecoder.padded(size)
            case .entry(let entry):
                count += 1
                guard count <= Self.memberLimit else {
                    throw ImageError.tooLarge(file.path, why: "more than \(Self.memberLimit) members")
                }
                switch entry.kind {
                case .file:
                    guard offset + entry.size <= file.size else {
                        throw ImageError.notATar(file.path, why: "member \(entry.path) runs past the end of the file")
                    }
                    members[entry.path] = (offset, entry.size)
                case .symlink, .hardlink:
                    links[entry.path] = entry.linkTarget
                default:
                    break
                }
                offset += TarHeaderDecoder.padded(entry.size)
            }
        }
        if members.isEmpty && count == 0 { throw ImageError.notAnImage(file.path, why: "not a tar archive with any member") }
    }

    /// The member at `path`, following links inside the archive (Docker links a layer shared by two
    /// images to the first copy); nil when there is none.
    func locate(_ path: String) -> BlobLocation? {
        var current = TarHeaderDecoder.normalise(path)
        for _ in 0..<8 {
            if let member = members[current] { return BlobLocation(file: file, offset: member.offset, size: member.size) }
            guard let target = links[current] else { return nil }
            // A symlink is relative to its folder; a hard link names a member from the root.
            let folder = LayoutPath.split(current).folder
            let joined = target.hasPrefix("/") ? target : (folder.isEmpty ? target : folder + "/" + target)
            guard let resolved = LayoutPath.resolve(joined) else { return nil }
            current = members[resolved] != nil || links[resolved] != nil ? resolved : TarHeaderDecoder.normalise(target)
        }
        return nil
    }
}

/// Paths a manifest gives, kept inside the layout.
enum LayoutPath {
    /// `a/b/c` as (`a/b`, `c`); a name without a slash has the folder "". Plain string work:
    /// Foundation's path functions trap on some strings an attacker can put in a tar.
    static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    /// `a/./b/../c` is `a/c`; nil when it climbs out of the root or is absolute.
    static func resolve(_ path: String) -> String? {
        guard !path.hasPrefix("/"), !path.contains("\0") else { return nil }
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }
}

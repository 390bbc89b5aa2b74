import CDeflate
import CZlib
import Foundation

/// Bytes of a delta's target that are a copy of its base's (see git's gitformat-pack, "Deltified
/// representation").
public struct PackDeltaCopy: Sendable, Equatable {
    public let target: Int
    public let base: Int
    public let count: Int
}

/// Which blobs the repository's packs store as deltas of which, and the copies each delta makes,
/// read from the pack files themselves (libgit2 hands out whole objects only). A history scan uses
/// it to scan what each revision added rather than all of it (`Matcher`'s delta scans).
///
/// Everything here is read from files an attacker may have crafted, and it only ever narrows what
/// is scanned: so each read is bounds-checked, and whatever does not hold together (a header past
/// the end, a base after its delta, a base of another size, a copy past the base's end, a result of
/// another length than libgit2's object) is no delta: that blob is scanned in full.
public final class PackDeltas: @unchecked Sendable {
    /// The `.pack` files, read with `pread` through each thread's `PackWindow` (not mapped: a mapping
    /// touched at every entry's header would count the whole pack in the scan's resident memory).
    /// -1 where one could not be opened.
    private let packs: [(descriptor: Int32, size: Int)]
    /// Per blob: pack number << 48 | offset, `.max` when in no pack.
    private let locations: [UInt64]
    /// Per blob: its first pack's number << 48 | offset (`.max` when in no pack), duplicates kept:
    /// the read order, so the `.idx` files are searched once for both.
    private let orderKeys: [UInt64]
    /// Per blob: the blob (index into the same list) it is stored as a delta of; -1 when none of
    /// them (not a delta, or a delta of an object the scan does not read).
    public let base: [Int32]
    /// Per blob: how many blobs are deltas of it.
    public let dependents: [Int32]
    /// A delta larger than this is not inflated (its target is scanned in full).
    static let maxDeltaSize = 16 << 20

    /// `reading`: the indexes of `blobs` the scan reads (only their headers are parsed).
    public init(_ blobs: [ObjectID], reading: [Int], repository: Repository) {
        let order = PackOrder(commonDirectory: repository.commonDirectory)
        let packs = Self.openPacks(order)
        self.packs = packs
        // A blob in two packs is not read as a delta: libgit2 may read it from the other pack, and
        // the copies must describe the very bytes it hands out (packs git wrote hold each object
        // once; a crafted pair could differ).
        let (found, duplicated) = order.locations(blobs, duplicates: true)
        // libgit2 also reads packs keyseal's index reader does not (a version-1 `.idx`, a pack known
        // only to a multi-pack-index) and other repositories' objects (alternates): a blob there
        // could be handed out from a pack whose entry is not the one read here. With any of them,
        // no blob is read as a delta.
        let usable = Self.everyPackIndexed(order, commonDirectory: repository.commonDirectory)
            && packs.allSatisfy { $0.descriptor >= 0 }
        // A blob also stored loose is not read as a delta: should libgit2 ever pass over the pack
        // (a check of its that keyseal does not make), it would hand out the loose copy.
        let loose = Self.looseObjects(commonDirectory: repository.commonDirectory)
        let locations = found.indices.map { duplicated[$0] || !usable || loose.contains(blobs[$0]) ? UInt64.max : found[$0] }
        self.locations = locations
        orderKeys = found
        var byLocation: [UInt64: Int32] = [:]
        byLocation.reserveCapacity(blobs.count)
        for (i, location) in locations.enumerated() where location != .max { byLocation[location] = Int32(i) }
        var byID: [ObjectID: Int32]? = nil
        var base = [Int32](repeating: -1, count: blobs.count)
        var dependents = [Int32](repeating: 0, count: blobs.count)
        // In pack order, so that one window of read-ahead serves many headers.
        let window = PackWindow()
        let inPackOrder = reading.filter { $0 >= 0 && $0 < blobs.count && locations[$0] != .max }.sorted { locations[$0] < locations[$1] }
        for i in inPackOrder {
            let pack = Int(locations[i] >> 48), offset = Int(locations[i] & 0xffff_ffff_ffff)
            guard let header = Self.header(packs, pack, at: offset, window: window) else { continue }
            var found: Int32? = nil
            if let baseOffset = header.baseOffset {
                found = byLocation[UInt64(pack) << 48 | UInt64(baseOffset)]
            } else if let baseID = header.baseID {
                if byID == nil {
                    byID = Dictionary(blobs.enumerated().map { ($0.element, Int32($0.offset)) }, uniquingKeysWith: { a, _ in a })
                }
                // libgit2 takes a REF_DELTA's base from the same pack: so must this (and the base
                // must be held by that pack alone, like any base).
                if let candidate = byID?[baseID], locations[Int(candidate)] != .max,
                   Int(locations[Int(candidate)] >> 48) == pack {
                    found = candidate
                }
            }
            if let found, Int(found) != i {
                base[i] = found
                dependents[Int(found)] += 1
            }
        }
        self.base = base
        self.dependents = dependents
    }

    /// The `.pack` beside each of `order`'s indexes, opened for `pread`, with its size; (-1, 0) where
    /// one cannot be opened or does not agree with its index. libgit2 refuses a pack whose header or
    /// trailing checksum does not agree with its index (then reads a loose copy of the object, if
    /// any): such a pack is not read here either.
    static func openPacks(_ order: PackOrder) -> [(descriptor: Int32, size: Int)] {
        zip(order.packPaths, order.indexes).map { path, index -> (descriptor: Int32, size: Int) in
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            var info = stat()
            var header = [UInt8](repeating: 0, count: 12)
            var trailer = [UInt8](repeating: 0, count: 20)
            guard descriptor >= 0, fstat(descriptor, &info) == 0, info.st_size >= 32, pread(descriptor, &header, 12, 0) == 12,
                  pread(descriptor, &trailer, 20, off_t(info.st_size - 20)) == 20,
                  Self.agrees(header: header, trailer: trailer, index: index)
            else {
                if descriptor >= 0 { close(descriptor) }
                return (-1, 0)
            }
            return (descriptor, Int(info.st_size))
        }
    }

    /// The entry's zlib data (at most as many bytes as a stream of its size takes, or the rest of the
    /// pack), taken from `window` (or, longer than it holds, read with one `pread` into `compressed`)
    /// and inflated whole by libdeflate into `out`, which must then be exactly `header.size` bytes:
    /// false says nothing more (zlib, or libgit2, decides).
    static func inflateEntry(_ header: Header, in packs: [(descriptor: Int32, size: Int)], _ number: Int, window: PackWindow,
                             compressed: inout [UInt8], decompressor: OpaquePointer,
                             into out: UnsafeMutableRawBufferPointer) -> Bool {
        guard number >= 0, number < packs.count else { return false }
        let pack = packs[number]
        let want = min(compressedBound(header.size), pack.size - 20 - header.dataStart)
        guard want > 0, out.count == header.size else { return false }
        if let bytes = window.bytes(packs, number, at: header.dataStart, length: want) {
            return bytes.count == want && inflateWhole(bytes, into: out, decompressor: decompressor)
        }
        if compressed.count < want { compressed = [UInt8](repeating: 0, count: max(want, 1 << 16)) }
        return compressed.withUnsafeMutableBytes { input -> Bool in
            guard preadFully(pack.descriptor, input.baseAddress!, want, at: header.dataStart) else { return false }
            return inflateWhole(UnsafeRawBufferPointer(rebasing: input[0..<want]), into: out, decompressor: decompressor)
        }
    }

    /// Whether a pack's 12-byte header (`PACK`, version 2, object count) and its trailing checksum
    /// agree with its index (the same count; the pack's checksum the index records before its own).
    static func agrees(header: [UInt8], trailer: [UInt8], index: Data) -> Bool {
        guard header.count == 12, trailer.count == 20, index.count >= 8 + 1024 + 40,
              header[0..<8].elementsEqual([0x50, 0x41, 0x43, 0x4b, 0, 0, 0, 2]) else { return false }
        func u32(_ bytes: some Collection<UInt8>) -> UInt32 { bytes.reduce(0) { $0 << 8 | UInt32($1) } }
        let count = u32(header[8..<12])
        let indexed = u32(index[index.startIndex + 8 + 255 * 4 ..< index.startIndex + 8 + 256 * 4])
        return count == indexed && index[(index.endIndex - 40)..<(index.endIndex - 20)].elementsEqual(trailer)
    }

    /// The ids of the repository's loose objects (`objects/xx/` files of 38 hex digits).
    static func looseObjects(commonDirectory: String) -> Set<ObjectID> {
        let objects = (Repository.packFolder(commonDirectory: commonDirectory) as NSString).deletingLastPathComponent
        var ids = Set<ObjectID>()
        let files = FileManager.default
        for folder in (try? files.contentsOfDirectory(atPath: objects)) ?? [] where folder.count == 2 && folder.allSatisfy(\.isHexDigit) {
            for name in (try? files.contentsOfDirectory(atPath: (objects as NSString).appendingPathComponent(folder))) ?? []
            where name.count == 38 {
                if let id = ObjectID(hex: (folder + name).lowercased()) { ids.insert(id) }
            }
        }
        return ids
    }

    /// Whether every `.pack` in the pack folder has a version-2 index `order` read, and neither a
    /// multi-pack-index nor alternates bring in objects from elsewhere.
    static func everyPackIndexed(_ order: PackOrder, commonDirectory: String) -> Bool {
        let folder = Repository.packFolder(commonDirectory: commonDirectory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        if names.contains(where: { $0.hasPrefix("multi-pack-index") }) { return false }
        let packs = Set(names.filter { $0.hasSuffix(".pack") }.map { (folder as NSString).appendingPathComponent($0) })
        guard packs == Set(order.packPaths) else { return false }
        let objects = (folder as NSString).deletingLastPathComponent
        for name in ["info/alternates", "info/http-alternates"] {
            let path = (objects as NSString).appendingPathComponent(name)
            if let data = FileManager.default.contents(atPath: path), data.contains(where: { $0 > 0x20 }) { return false }
        }
        return true
    }

    /// `indexes` in the order their packs store them (loose objects last), as
    /// `BlobReader.packOrder` would give them.
    public func packOrder(_ indexes: [Int]) -> [Int] {
        indexes.sorted { orderKeys[$0] != orderKeys[$1] ? orderKeys[$0] < orderKeys[$1] : $0 < $1 }
    }

    deinit {
        for pack in packs where pack.descriptor >= 0 { close(pack.descriptor) }
    }

    /// The header of the entry at `offset` in pack `number`, from `window`.
    static func header(_ packs: [(descriptor: Int32, size: Int)], _ number: Int, at offset: Int, window: PackWindow) -> Header? {
        guard number >= 0, number < packs.count, offset >= 0, offset < packs[number].size,
              let bytes = window.bytes(packs, number, at: offset, length: 64)
        else { return nil }
        return header(bytes, windowStart: offset, fileSize: packs[number].size, at: offset)
    }

    /// What a pack entry's header says: its type, inflated size, where its zlib data starts, and for
    /// a delta its base (an offset in the same pack, or an object id).
    struct Header {
        let type: Int
        let size: Int
        let dataStart: Int
        var baseOffset: Int?
        var baseID: ObjectID?
    }

    static func header(_ pack: UnsafeRawBufferPointer, at offset: Int) -> Header? {
        header(pack, windowStart: 0, fileSize: pack.count, at: offset)
    }

    /// The same, from `window`, the bytes of a `fileSize`-byte pack from `windowStart` on.
    static func header(_ window: UnsafeRawBufferPointer, windowStart: Int, fileSize: Int, at offset: Int) -> Header? {
        // 12 bytes of pack header before the first entry, a 20-byte checksum after the last; and
        // only what the window holds.
        let end = min(fileSize - 20, windowStart + window.count)
        guard offset >= 12, offset >= windowStart, offset < end else { return nil }
        let pack = UnsafeRawBufferPointer(rebasing: window[0...]), origin = windowStart
        var p = offset
        var c = Int(pack[p - origin])
        p += 1
        let type = (c >> 4) & 7
        var size = c & 15
        var shift = 4
        while c & 0x80 != 0 {
            guard p < end, shift <= 56 else { return nil }
            c = Int(pack[p - origin])
            p += 1
            size |= (c & 0x7f) << shift
            shift += 7
        }
        var header = Header(type: type, size: size, dataStart: p)
        switch type {
        case 6:  // OFS_DELTA: the base lies this far before the entry
            guard p < end else { return nil }
            c = Int(pack[p - origin])
            p += 1
            var distance = c & 0x7f
            while c & 0x80 != 0 {
                guard p < end, distance < 1 << 48 else { return nil }
                c = Int(pack[p - origin])
                p += 1
                distance = ((distance + 1) << 7) | (c & 0x7f)
            }
            guard distance > 0, distance <= offset - 12 else { return nil }
            header.baseOffset = offset - distance
        case 7:  // REF_DELTA: the base's id
            guard p + 20 <= end else { return nil }
            header.baseID = ObjectID(rawBytes: pack.baseAddress! + (p - origin))
            p += 20
        default:
            break
        }
        return Header(type: header.type, size: header.size, dataStart: p, baseOffset: header.baseOffset, baseID: header.baseID)
    }

    /// One thread's inflate state and buffers, reused from delta to delta (a fresh zlib stream and
    /// buffers per delta cost more than the scan saved on a repository of small files).
    public final class Reader {
        var stream = z_stream()
        let ready: Bool
        var chunk = [UInt8](repeating: 0, count: 16384)
        var out: [UInt8] = []
        /// A rebuilt delta's target.
        var target: [UInt8] = []
        /// libdeflate's state, for a delta whose compressed bytes are read whole (nil: zlib only).
        let decompressor: OpaquePointer?
        /// Those compressed bytes, when longer than the window holds.
        var compressed: [UInt8] = []
        /// The pack bytes around the entries this thread reads (in pack order, batch by batch).
        let window = PackWindow()

        public init() {
            ready = inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
            decompressor = libdeflate_alloc_decompressor()
        }
        deinit {
            if ready { inflateEnd(&stream) }
            if let decompressor { libdeflate_free_decompressor(decompressor) }
        }
    }

    /// The copies blob `index`'s delta makes from its base, merged where they run on; nil when it is
    /// not a delta, or the delta does not turn a `baseLength`-byte base into `targetLength` bytes.
    /// `reader` is the calling thread's, reused between calls.
    public func copies(of index: Int, targetLength: Int, baseLength: Int, reader: Reader) -> [PackDeltaCopy]? {
        guard let size = inflatedDelta(of: index, maxTargetLength: targetLength, reader: reader) else { return nil }
        return reader.out.withUnsafeBytes {
            Self.parse(UnsafeRawBufferPointer(rebasing: $0[0..<size]), baseLength: baseLength, targetLength: targetLength)
        }
    }

    /// Blob `index`'s bytes rebuilt from its base's (`base`, the bytes libgit2 handed out for it or
    /// rebuilt the same way) and its delta, inflated once: what libgit2 would hand out for it, without
    /// libgit2 inflating the delta again, or its chain when its delta-base cache lost the base.
    /// `body` gets the bytes (valid during the call) and the copies. nil when it is no delta, its
    /// target is longer than `maxLength`, or the delta does not hold together (read it through libgit2).
    public func rebuild<T>(_ index: Int, base: UnsafeRawBufferPointer, maxLength: Int, reader: Reader,
                           _ body: (UnsafeRawBufferPointer, [PackDeltaCopy]) throws -> T) rethrows -> T? {
        guard let size = inflatedDelta(of: index, maxTargetLength: maxLength, reader: reader) else { return nil }
        var target = reader.target
        reader.target = []  // `target` is the only reference while the delta is applied and scanned
        defer { reader.target = target }
        let rebuilt = reader.out.withUnsafeBytes { raw -> (length: Int, copies: [PackDeltaCopy])? in
            let delta = UnsafeRawBufferPointer(rebasing: raw[0..<size])
            // Each instruction byte makes at most 64 KiB of target: a longer claim is a lie. The
            // delta is checked whole before the target's buffer is grown for it.
            guard let length = Self.targetLength(delta), length <= maxLength, size <= 8 * length + 32,
                  length <= 0x10000 * size, Self.parse(delta, baseLength: base.count, targetLength: length) != nil
            else { return nil }
            if target.count < length { target = [UInt8](repeating: 0, count: length) }
            let copies = target.withUnsafeMutableBytes { out in
                Self.parse(delta, baseLength: base.count, targetLength: length,
                           apply: (base, UnsafeMutableRawBufferPointer(rebasing: out[0..<length])))
            }
            return copies.map { (length, $0) }
        }
        // A thread keeps a buffer of its largest target only up to a few MiB.
        defer { if target.count > Self.keptTargetBuffer { target = [] } }
        guard let rebuilt else { return nil }
        return try target.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<rebuilt.length]), rebuilt.copies) }
    }

    static let keptTargetBuffer = 8 << 20

    /// Blob `index`'s bytes when its pack stores it whole (not as a delta), inflated here by
    /// libdeflate as libgit2 would hand them out (it would inflate them with zlib, through its pack
    /// windows and their lock). `body` gets the bytes (valid during the call). nil when it is not
    /// stored whole in a pack read here, is longer than `maxLength`, or does not inflate whole to its
    /// stated size: libgit2 reads it.
    public func readWhole<T>(_ index: Int, maxLength: Int, reader: Reader,
                             _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T? {
        guard index < locations.count, locations[index] != .max, let decompressor = reader.decompressor else { return nil }
        let pack = Int(locations[index] >> 48), offset = Int(locations[index] & 0xffff_ffff_ffff)
        guard let header = Self.header(packs, pack, at: offset, window: reader.window), header.type == 3,
              header.size <= maxLength, header.size > 0
        else { return nil }
        guard Self.compressedBound(header.size) <= Self.maxWholeRead else { return nil }
        var target = reader.target
        reader.target = []  // `target` is the only reference while it is written and scanned
        defer { reader.target = target.count > Self.keptTargetBuffer ? [] : target }
        if target.count < header.size { target = [UInt8](repeating: 0, count: header.size) }
        let inflated = target.withUnsafeMutableBytes { out in
            Self.inflateEntry(header, in: packs, pack, window: reader.window, compressed: &reader.compressed,
                              decompressor: decompressor, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<header.size]))
        }
        guard inflated else { return nil }
        return try target.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<header.size])) }
    }

    /// Inflates blob `index`'s delta into `reader.out`: its size, or nil when it is no delta (of a
    /// blob of the scan), or claims more than a delta to a `maxTargetLength`-byte target takes.
    private func inflatedDelta(of index: Int, maxTargetLength: Int, reader: Reader) -> Int? {
        guard index < locations.count, base[index] >= 0, locations[index] != .max else { return nil }
        let pack = Int(locations[index] >> 48), offset = Int(locations[index] & 0xffff_ffff_ffff)
        // A delta's instructions take at most 8 bytes per target byte (a copy makes at least one):
        // a larger size is a lie, not worth a buffer.
        guard let header = Self.header(packs, pack, at: offset, window: reader.window), header.type == 6 || header.type == 7,
              header.size <= Self.maxDeltaSize, header.size <= 8 * maxTargetLength + 32
        else { return nil }
        let (descriptor, size) = packs[pack]
        if reader.out.count < header.size { reader.out = [UInt8](repeating: 0, count: header.size) }
        var position = header.dataStart
        let end = size - 20
        var out = reader.out
        reader.out = []  // `out` is the only reference while zlib writes into it
        defer { reader.out = out }
        // Most deltas: their compressed bytes in one read (as many as a stream of that size can
        // take, or the rest of the pack), inflated in one call. Whatever that does not take whole
        // (a longer stream, a read cut short, bytes libdeflate refuses) is inflated by zlib as before.
        // Where both take a stream they read the same bytes. libdeflate also takes a few codes DEFLATE
        // reserves, which zlib refuses: no git can read such an object, and keyseal scans what
        // libdeflate reads of it rather than stopping (HistoryDeltaScanTests).
        let bound = Self.compressedBound(header.size)
        if bound <= Self.maxWholeRead, let decompressor = reader.decompressor,
           out.withUnsafeMutableBytes({ out in
               Self.inflateEntry(header, in: packs, pack, window: reader.window, compressed: &reader.compressed,
                                 decompressor: decompressor, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<header.size]))
           }) {
            return header.size
        }
        let inflated = out.withUnsafeMutableBytes { out in
            Self.inflate(into: UnsafeMutableRawBufferPointer(rebasing: out[0..<header.size]), reader: reader) { chunk in
                guard position < end else { return 0 }
                let count = pread(descriptor, chunk.baseAddress, min(chunk.count, end - position), off_t(position))
                if count > 0 { position += count }
                return max(count, 0)
            }
        }
        return inflated ? header.size : nil
    }

    /// The most compressed bytes a zlib stream of `size` bytes takes when written by zlib or git
    /// (stored blocks at worst: 5 bytes per 16 KiB block, zlib's header and checksum, slack for
    /// an empty last block). Longer streams are possible, and zlib inflates them.
    static func compressedBound(_ size: Int) -> Int { size + (size >> 12) + (size >> 14) + 64 }

    /// Deltas whose compressed bytes may be longer than this are inflated by zlib in chunks, so a
    /// thread's buffer for them stays small.
    static let maxWholeRead = 4 << 20

    static func preadFully(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, at offset: Int) -> Bool {
        var done = 0
        while done < count {
            let read = pread(descriptor, buffer + done, count - done, off_t(offset + done))
            guard read > 0 else { return false }
            done += read
        }
        return true
    }

    /// Inflates the zlib stream at the start of `compressed` (which may run on past its end) with
    /// libdeflate: true when it ends exactly filling `out`, its checksum right. False says nothing
    /// more (zlib, which reads the stream in chunks, decides).
    static func inflateWhole(_ compressed: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                             decompressor: OpaquePointer) -> Bool {
        guard let input = compressed.baseAddress, let output = out.baseAddress else { return false }
        var written = 0
        let result = libdeflate_zlib_decompress_ex(decompressor, input, compressed.count, output, out.count, nil, &written)
        return result == LIBDEFLATE_SUCCESS && written == out.count
    }

    /// Inflates exactly `compressed`'s first zlib stream into `out`, which it must fill exactly.
    static func inflate(_ compressed: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, size: Int) -> Bool {
        var position = 0
        return inflate(into: UnsafeMutableRawBufferPointer(rebasing: out[0..<min(size, out.count)]), reader: Reader()) { chunk in
            let count = min(chunk.count, compressed.count - position)
            if count > 0 { chunk.baseAddress!.copyMemory(from: compressed.baseAddress! + position, byteCount: count) }
            position += max(count, 0)
            return max(count, 0)
        } && size <= out.count
    }

    /// Inflates one zlib stream, read in chunks by `read` (which fills a buffer and returns the bytes
    /// it put there, 0 at the end), into `out`, which it must fill exactly. Each round consumes
    /// input or makes output, so a stream that does neither (cut short, damaged) ends it.
    static func inflate(into out: UnsafeMutableRawBufferPointer, reader: Reader,
                        read: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        guard reader.ready, inflateReset(&reader.stream) == Z_OK else { return false }
        var chunk = reader.chunk
        reader.chunk = []
        defer { reader.chunk = chunk }
        // One spare byte: a stream that would inflate to more than `out` holds is refused.
        var spare: UInt8 = 0
        return chunk.withUnsafeMutableBytes { input -> Bool in
            withUnsafeMutablePointer(to: &reader.stream) { stream -> Bool in
                stream.pointee.next_in = nil
                stream.pointee.avail_in = 0
                stream.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = UInt32(out.count)
                while true {
                    if stream.pointee.avail_in == 0 {
                        let count = read(input)
                        guard count > 0 else { return false }
                        stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                        stream.pointee.avail_in = UInt32(count)
                    }
                    if stream.pointee.avail_out == 0 {
                        // Full: the stream must end here, so it may write nothing more.
                        let status = withUnsafeMutablePointer(to: &spare) { pointer -> Int32 in
                            stream.pointee.next_out = pointer
                            stream.pointee.avail_out = 1
                            return CZlib.inflate(stream, Z_NO_FLUSH)
                        }
                        if status == Z_STREAM_END && stream.pointee.avail_out == 1 { return true }
                        if status == Z_OK && stream.pointee.avail_out == 1 && stream.pointee.avail_in == 0 {
                            // More input needed to see the end.
                            stream.pointee.next_out = nil
                            stream.pointee.avail_out = 0
                            continue
                        }
                        return false
                    }
                    let before = (stream.pointee.avail_in, stream.pointee.avail_out)
                    let status = CZlib.inflate(stream, Z_NO_FLUSH)
                    if status == Z_STREAM_END { return stream.pointee.avail_out == 0 }
                    guard status == Z_OK || status == Z_BUF_ERROR else { return false }
                    if (stream.pointee.avail_in, stream.pointee.avail_out) == before { return false }
                }
            }
        }
    }


    /// The target length a delta's instructions start with (after its base's), nil when cut short.
    static func targetLength(_ delta: UnsafeRawBufferPointer) -> Int? {
        var p = 0
        guard varint(delta, &p) != nil else { return nil }
        return varint(delta, &p)
    }

    private static func varint(_ delta: UnsafeRawBufferPointer, _ p: inout Int) -> Int? {
        var value = 0, shift = 0
        while true {
            guard p < delta.count, shift <= 56 else { return nil }
            let c = Int(delta[p])
            p += 1
            value |= (c & 0x7f) << shift
            shift += 7
            if c & 0x80 == 0 { return value }
        }
    }

    /// A delta's instructions: two sizes, then copies (`1xxxxxxx`, offset and size bytes as the bits
    /// say) and inserts (`0nnnnnnn`, n bytes). One pass, no allocation but the result. With `apply`
    /// (the base's bytes, and a buffer of exactly `targetLength` bytes) it also writes the target.
    static func parse(_ delta: UnsafeRawBufferPointer, baseLength: Int, targetLength: Int,
                      apply: (base: UnsafeRawBufferPointer, target: UnsafeMutableRawBufferPointer)? = nil) -> [PackDeltaCopy]? {
        var p = 0
        guard varint(delta, &p) == baseLength, varint(delta, &p) == targetLength else { return nil }
        if let apply, apply.base.count != baseLength || apply.target.count != targetLength { return nil }
        var copies: [PackDeltaCopy] = []
        var t = 0
        while p < delta.count {
            let op = Int(delta[p])
            p += 1
            if op & 0x80 != 0 {
                var from = 0, size = 0
                for bit in 0..<4 where op & (1 << bit) != 0 {
                    guard p < delta.count else { return nil }
                    from |= Int(delta[p]) << (8 * bit)
                    p += 1
                }
                for bit in 0..<3 where op & (0x10 << bit) != 0 {
                    guard p < delta.count else { return nil }
                    size |= Int(delta[p]) << (8 * bit)
                    p += 1
                }
                if size == 0 { size = 0x10000 }
                guard from + size <= baseLength, t + size <= targetLength else { return nil }
                if let apply {
                    // Safe: both ranges were just checked against the buffers' lengths.
                    (apply.target.baseAddress! + t).copyMemory(from: apply.base.baseAddress! + from, byteCount: size)
                }
                if let last = copies.last, last.target + last.count == t, last.base + last.count == from {
                    copies[copies.count - 1] = PackDeltaCopy(target: last.target, base: last.base, count: last.count + size)
                } else {
                    copies.append(PackDeltaCopy(target: t, base: from, count: size))
                }
                t += size
            } else if op != 0 {
                guard p + op <= delta.count, t + op <= targetLength else { return nil }
                if let apply {
                    // Safe: both ranges were just checked against the buffers' lengths.
                    (apply.target.baseAddress! + t).copyMemory(from: delta.baseAddress! + p, byteCount: op)
                }
                p += op
                t += op
            } else {
                return nil  // reserved
            }
        }
        return t == targetLength ? copies : nil
    }
}

/// Bytes of one pack read ahead of the entry asked for. Entries read in pack order (a thread's batch
/// of blobs, the walk's commits) then cost one `pread` among many rather than two each (a header's
/// and its data's: a scan of redis.git made 135,000). A read far from the last window reads little
/// ahead, so entries read out of order cost about what they did.
final class PackWindow {
    /// Read ahead when the entry asked for follows the window (sequential reading).
    static let readAhead = 256 << 10
    /// Read ahead otherwise.
    static let nearby = 16 << 10
    private let buffer: UnsafeMutableRawPointer
    /// The bytes held: which pack (by number and descriptor, so that a window handed to another
    /// set of packs never answers from the old one), from where, how many.
    private var pack = -1, descriptor: Int32 = -1, start = 0, count = 0

    init() { buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.readAhead, alignment: 64) }
    deinit { buffer.deallocate() }

    /// Bytes `offset ..< offset + length` of pack `number` (fewer where the pack ends first), valid
    /// until the next call; nil when they cannot be read, or `length` is more than a window holds.
    func bytes(_ packs: [(descriptor: Int32, size: Int)], _ number: Int, at offset: Int, length: Int) -> UnsafeRawBufferPointer? {
        guard number >= 0, number < packs.count, offset >= 0, length > 0, length <= Self.readAhead else { return nil }
        let (descriptor, size) = packs[number]
        let available = min(length, size - offset)
        guard descriptor >= 0, available > 0 else { return nil }
        let same = number == pack && descriptor == self.descriptor
        if !same || offset < start || offset + available > start + count {
            let sequential = same && offset >= start && offset <= start + count + Self.readAhead
            let want = min(max(available, sequential ? Self.readAhead : Self.nearby), size - offset)
            guard PackDeltas.preadFully(descriptor, buffer, want, at: offset) else {
                pack = -1
                return nil
            }
            (pack, self.descriptor, start, count) = (number, descriptor, offset, want)
        }
        return UnsafeRawBufferPointer(start: buffer + (offset - start), count: available)
    }
}

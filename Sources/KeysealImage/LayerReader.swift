import Foundation

/// What a layer holds, path by path, for deciding which files a later layer deletes or replaces.
public struct LayerListing: Sendable {
    /// Every member's path (files, folders, links), whiteout markers excluded.
    public internal(set) var paths: Set<String> = []
    /// Paths a `.wh.NAME` marker deletes from the layers below.
    public internal(set) var whiteouts: Set<String> = []
    /// Folders a `.wh..wh..opq` marker empties of everything the layers below put there.
    public internal(set) var opaqueFolders: Set<String> = []
    /// Folders (directory members): replacing a lower file with a folder hides it too.
    public internal(set) var folders: Set<String> = []

    public init(paths: Set<String> = [], whiteouts: Set<String> = [], opaqueFolders: Set<String> = [], folders: Set<String> = []) {
        self.paths = paths
        self.whiteouts = whiteouts
        self.opaqueFolders = opaqueFolders
        self.folders = folders
    }
}

/// Streams a layer's tar: each regular file's bytes (up to a size limit) go to a callback as the
/// tar is decompressed, never to disk. The stored bytes are hashed on the way and checked against
/// the layer's digest at the end.
public enum LayerReader {
    /// Past this, a layer is refused, not read for hours: no real layer decompresses to 64 GiB.
    public static let outputLimit = 64 << 30
    /// Members per layer; past this the listing would cost real memory.
    public static let memberLimit = 4 << 20
    /// The paths of one layer's listing, added up: kept in memory for every layer of a run.
    public static let listingLimit = 256 << 20

    public enum FileContent {
        case bytes(UnsafeRawBufferPointer)
        case tooLarge
    }

    /// Calls `body` for each regular file of the layer, in tar order. Throws `digestMismatch` if the
    /// stored bytes do not hash to `digest` (when one is given), after reading them all.
    public static func read(_ layer: ImageLayer, maxFileSize: Int,
                            body: (TarEntry, FileContent) throws -> Void) throws -> LayerListing {
        let stream = try LayerStream(layer.location, what: layer.displayName, outputLimit: outputLimit)
        do {
            return try read(layer, stream: stream, maxFileSize: maxFileSize, body: body)
        } catch let error as ImageError {
            // A layer that does not parse may have been altered: that is what to report, if so.
            if let expected = layer.digest, let actual = try? stream.storedDigest(), actual != expected,
               stream.compression == .none || !layer.digestIsDiffID {
                throw ImageError.digestMismatch(expected, actual: actual)
            }
            throw error
        }
    }

    static func read(_ layer: ImageLayer, stream: LayerStream, maxFileSize: Int,
                     body: (TarEntry, FileContent) throws -> Void) throws -> LayerListing {
        let name = layer.displayName
        var reader = ExactReader(stream: stream)
        defer { reader.release() }
        var decoder = TarHeaderDecoder(what: name)
        var listing = LayerListing()
        var file = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { file.deallocate() }
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 16)
        defer { block.deallocate() }
        var members = 0, listingBytes = 0
        var sawHeader = false
        loop: while true {
            guard try reader.fill(block) else {
                if !sawHeader { throw ImageError.notATar(name, why: "it is empty") }
                break  // A tar without its end blocks: what was there was read.
            }
            let step: TarHeaderDecoder.Step
            do {
                step = try decoder.header(UnsafeRawBufferPointer(block))
            } catch let error as ImageError where !sawHeader {
                if case .notATar = error { throw ImageError.notATar(name, why: "its first bytes are not a tar header") }
                throw error
            }
            sawHeader = true
            switch step {
            case .end:
                // As Go's archive/tar: the end is two zero blocks; one zero block then a header is
                // not a tar (Docker would refuse the layer), and must not hide what follows.
                let next = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 16)
                defer { next.deallocate() }
                if try reader.fill(next), !next.allSatisfy({ $0 == 0 }) {
                    throw ImageError.notATar(name, why: "a lone zero block stands before more members")
                }
                break loop
            case .skip(let size):
                try reader.skip(TarHeaderDecoder.padded(size), what: name)
            case .extensionRecord(let size):
                let record = UnsafeMutableRawBufferPointer.allocate(byteCount: TarHeaderDecoder.padded(max(size, 1)), alignment: 16)
                defer { record.deallocate() }
                guard try reader.fill(record) else { throw ImageError.notATar(name, why: "it ends inside a header") }
                try decoder.extensionData(UnsafeRawBufferPointer(rebasing: record[0..<size]))
            case .entry(let entry):
                members += 1
                listingBytes += entry.path.utf8.count
                guard members <= memberLimit else { throw ImageError.tooLarge("layer \(name)", why: "more than \(memberLimit) members") }
                guard listingBytes <= listingLimit else {
                    throw ImageError.tooLarge("layer \(name)", why: "its members' paths add up to more than \(listingLimit >> 20) MiB")
                }
                record(entry, in: &listing)
                guard entry.kind == .file else {
                    try reader.skip(TarHeaderDecoder.padded(entry.size), what: name)
                    continue
                }
                if entry.size > maxFileSize {
                    try body(entry, .tooLarge)
                    try reader.skip(TarHeaderDecoder.padded(entry.size), what: name)
                    continue
                }
                if file.count < entry.size {
                    file.deallocate()
                    file = UnsafeMutableRawBufferPointer.allocate(byteCount: max(entry.size, file.count * 2), alignment: 16)
                }
                let view = UnsafeMutableRawBufferPointer(rebasing: file[0..<entry.size])
                guard try reader.fill(view) else { throw ImageError.notATar(name, why: "member \(entry.path) is cut short") }
                try reader.skip(TarHeaderDecoder.padded(entry.size) - entry.size, what: name)
                try body(entry, .bytes(UnsafeRawBufferPointer(view)))
            }
        }
        // Anything after the tar's end (padding) is read for the digest only.
        // The decompressed bytes must be the diff_id the config names: the store and a run's
        // de-duplication trust it, and so does Docker when it loads the image.
        if let diffID = layer.diffID {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { scratch.deallocate() }
            let actual = try reader.drainedDigest(scratch: scratch)
            if actual != diffID {
                throw ImageError.malformed("layer \(name)", why: "its content does not match the diff_id \(diffID) the config gives it (it hashes to \(actual))")
            }
        }
        // A legacy layer is named by its diff_id, checked above.
        if let expected = layer.digest, !layer.digestIsDiffID {
            let actual = try stream.storedDigest()
            if actual != expected { throw ImageError.digestMismatch(expected, actual: actual) }
        }
        return listing
    }

    static func record(_ entry: TarEntry, in listing: inout LayerListing) {
        let (folder, name) = LayoutPath.split(entry.path)
        if name == ".wh..wh..opq" {
            listing.opaqueFolders.insert(folder)
        } else if name.hasPrefix(".wh.") {
            let target = String(name.dropFirst(4))
            listing.whiteouts.insert(folder.isEmpty ? target : folder + "/" + target)
        } else {
            listing.paths.insert(entry.path)
            if entry.kind == .directory { listing.folders.insert(entry.path) }
        }
    }
}

/// Exact reads over a layer stream, through a buffer so tar's 512-byte headers cost no call each.
struct ExactReader {
    let stream: LayerStream
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    private var start = 0, end = 0

    init(stream: LayerStream) { self.stream = stream }

    func release() { buffer.deallocate() }

    /// Fills `target` completely; false if the stream ended before the first byte. A stream that
    /// ends part-way is an error.
    mutating func fill(_ target: UnsafeMutableRawBufferPointer) throws -> Bool {
        if target.isEmpty { return true }
        var done = 0
        while done < target.count {
            if start == end {
                // Large reads go straight into the target.
                if target.count - done >= buffer.count {
                    let count = try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: target[done...]))
                    if count == 0 { break }
                    done += count
                    continue
                }
                start = 0
                end = try stream.read(into: buffer)
                if end == 0 { break }
            }
            let count = min(target.count - done, end - start)
            (target.baseAddress! + done).copyMemory(from: buffer.baseAddress! + start, byteCount: count)  // Safe: non-empty.
            start += count
            done += count
        }
        if done == 0 { return false }
        guard done == target.count else { throw ImageError.notATar(stream.what, why: "it ends in the middle of a member") }
        return true
    }

    /// The decompressed digest of the whole layer: what is buffered was hashed when it was read.
    mutating func drainedDigest(scratch: UnsafeMutableRawBufferPointer) throws -> String {
        start = end
        return try stream.uncompressedDigest(scratch: scratch)
    }

    mutating func skip(_ count: Int, what: String) throws {
        var left = count
        while left > 0 {
            if start == end {
                start = 0
                end = try stream.read(into: buffer)
                guard end > 0 else { throw ImageError.notATar(what, why: "it ends in the middle of a member") }
            }
            let step = min(left, end - start)
            start += step
            left -= step
        }
    }
}

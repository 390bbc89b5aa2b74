import CZlib
import CZstd
import Crypto
import Foundation

/// How a layer's bytes are stored, told by their first bytes (a media type can be wrong).
public enum LayerCompression: String, Sendable {
    case none, gzip, zstd

    static func detect(_ head: UnsafeRawBufferPointer) -> LayerCompression {
        if head.count >= 2, head[0] == 0x1F, head[1] == 0x8B { return .gzip }
        if head.count >= 4, head[0] == 0x28, head[1] == 0xB5, head[2] == 0x2F, head[3] == 0xFD { return .zstd }
        return .none
    }
}

/// A blob's stored bytes, read in chunks from its file and hashed on the way, so its digest is
/// checked without a second read.
final class HashedBlobReader {
    let location: BlobLocation
    private(set) var consumed = 0
    private var hasher = SHA256()

    init(_ location: BlobLocation) { self.location = location }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let wanted = min(buffer.count, location.size - consumed)
        guard wanted > 0 else { return 0 }
        let view = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted])
        let count = try location.file.read(at: location.offset + consumed, into: view)
        guard count == wanted else { throw ImageError.unreadable(location.file.path, why: "the file ended early") }
        hasher.update(bufferPointer: UnsafeRawBufferPointer(view))
        consumed += count
        return count
    }

    /// Reads what is left (hashing only) and returns `sha256:HEX` of the whole blob.
    func finishDigest(scratch: UnsafeMutableRawBufferPointer) throws -> String {
        while try read(into: scratch) > 0 {}
        return "sha256:" + hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

/// A layer's tar bytes, decompressed as they are read (gzip with several members, or zstd with
/// several frames, or none). Memory: two fixed buffers and the decompressor's window.
final class LayerStream {
    static let inputSize = 256 << 10
    let what: String
    let reader: HashedBlobReader
    let compression: LayerCompression
    private let input: UnsafeMutableRawBufferPointer
    private var inputStart = 0, inputEnd = 0
    private var inputDone = false
    private var zlib = z_stream()
    private var zstd: OpaquePointer?
    private var frameOpen = false
    private var ended = false
    /// Decompressed bytes handed out; past `outputLimit` the layer is refused (a decompression bomb).
    private(set) var produced = 0
    /// Over the decompressed bytes: the layer's diff_id, which the config names it by.
    private var uncompressedHasher = SHA256()
    let outputLimit: Int

    init(_ location: BlobLocation, what: String, outputLimit: Int) throws {
        self.what = what
        self.outputLimit = outputLimit
        reader = HashedBlobReader(location)
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.inputSize, alignment: 16)
        inputEnd = try reader.read(into: input)
        inputDone = inputEnd == 0
        compression = LayerCompression.detect(UnsafeRawBufferPointer(rebasing: input[0..<inputEnd]))
        switch compression {
        case .gzip:
            // 15 + 16: a gzip wrapper is required.
            guard inflateInit2_(&zlib, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw ImageError.badCompression(what, why: "zlib could not start (inflateInit2)")
            }
        case .zstd:
            guard let stream = ZSTD_createDStream() else { throw ImageError.badCompression(what, why: "ZSTD_createDStream failed") }
            zstd = stream
            // Frames asking for a window past 1 GiB are refused: memory stays bounded.
            ZSTD_DCtx_setParameter(stream, ZSTD_d_windowLogMax, 30)
        case .none:
            break
        }
    }

    deinit {
        if compression == .gzip { inflateEnd(&zlib) }
        if let zstd { ZSTD_freeDStream(zstd) }
        input.deallocate()
    }

    private func refill() throws {
        if inputStart < inputEnd || inputDone { return }
        inputStart = 0
        inputEnd = try reader.read(into: input)
        inputDone = inputEnd == 0
    }

    /// Up to `buffer.count` decompressed bytes; 0 at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !ended, buffer.count > 0 else { return 0 }
        var count = 0
        switch compression {
        case .none:
            if inputStart < inputEnd {
                count = min(buffer.count, inputEnd - inputStart)
                buffer.baseAddress!.copyMemory(from: input.baseAddress! + inputStart, byteCount: count)  // Safe: both non-empty.
                inputStart += count
            } else {
                count = try reader.read(into: buffer)
            }
        case .gzip:
            count = try inflate(into: buffer)
        case .zstd:
            count = try unzstd(into: buffer)
        }
        if count == 0 { ended = true }
        if count > 0 { uncompressedHasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count])) }
        produced += count
        guard produced <= outputLimit else {
            throw ImageError.tooLarge("layer \(what)", why: "it decompresses to more than \(outputLimit >> 30) GiB")
        }
        return count
    }

    private func inflate(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            try refill()
            if inputStart == inputEnd && inputDone {
                if frameOpen { throw ImageError.badCompression(what, why: "the gzip stream ends early (truncated)") }
                return 0
            }
            if !frameOpen {
                // Another gzip member starts here (or zero padding, which ends the layer).
                if input[inputStart] != 0x1F {
                    if input[inputStart..<inputEnd].allSatisfy({ $0 == 0 }) { inputStart = inputEnd; continue }
                    throw ImageError.badCompression(what, why: "bytes after the gzip stream are not gzip")
                }
                inflateReset(&zlib)
                frameOpen = true
            }
            zlib.next_in = input.baseAddress!.assumingMemoryBound(to: UInt8.self) + inputStart  // Safe: allocated.
            zlib.avail_in = UInt32(inputEnd - inputStart)
            zlib.next_out = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)  // Safe: count > 0.
            zlib.avail_out = UInt32(min(buffer.count, Int(UInt32.max)))
            let status = CZlib.inflate(&zlib, Z_NO_FLUSH)
            inputStart = inputEnd - Int(zlib.avail_in)
            let count = min(buffer.count, Int(UInt32.max)) - Int(zlib.avail_out)
            if status == Z_STREAM_END {
                frameOpen = false
            } else if status != Z_OK && !(status == Z_BUF_ERROR && count == 0 && inputStart == inputEnd) {
                throw ImageError.badCompression(what, why: "corrupt gzip data (zlib status \(status))")
            }
            if count > 0 { return count }
        }
    }

    private func unzstd(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let zstd else { return 0 }
        while true {
            try refill()
            if inputStart == inputEnd && inputDone {
                if frameOpen { throw ImageError.badCompression(what, why: "the zstd stream ends early (truncated)") }
                return 0
            }
            var source = ZSTD_inBuffer(src: input.baseAddress! + inputStart, size: inputEnd - inputStart, pos: 0)  // Safe: allocated.
            var target = ZSTD_outBuffer(dst: buffer.baseAddress!, size: buffer.count, pos: 0)  // Safe: count > 0.
            let status = ZSTD_decompressStream(zstd, &target, &source)
            if ZSTD_isError(status) != 0 {
                throw ImageError.badCompression(what, why: "corrupt zstd data (\(String(cString: ZSTD_getErrorName(status))))")
            }
            inputStart += source.pos
            frameOpen = status != 0
            if target.pos > 0 { return target.pos }
        }
    }

    /// The digest of all the decompressed bytes, reading (and decompressing) what is left.
    func uncompressedDigest(scratch: UnsafeMutableRawBufferPointer) throws -> String {
        while try read(into: scratch) > 0 {}
        return "sha256:" + uncompressedHasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The digest of all the stored bytes (reading the rest of the blob without decompressing it).
    func storedDigest() throws -> String {
        try reader.finishDigest(scratch: input)
    }
}

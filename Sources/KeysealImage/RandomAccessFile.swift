import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file read at offsets (`pread`), shared by every thread that reads a blob from it.
public final class RandomAccessFile: @unchecked Sendable {
    let descriptor: Int32
    public let path: String
    public let size: Int

    public init(path: String) throws {
        // Non-blocking: a FIFO planted in a layout folder must not hang the open; only a regular
        // file is read.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw ImageError.unreadable(path, why: String(cString: strerror(errno))) }
        var facts = stat()
        guard fstat(descriptor, &facts) == 0 else {
            let why = String(cString: strerror(errno))
            close(descriptor)
            throw ImageError.unreadable(path, why: why)
        }
        guard facts.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw ImageError.unreadable(path, why: "not a regular file")
        }
        self.descriptor = descriptor
        self.path = path
        self.size = Int(facts.st_size)
    }

    deinit { close(descriptor) }

    /// Fills `buffer` from `offset` as far as the file goes; returns the bytes read.
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))  // Safe: count > 0.
            if count < 0 {
                if errno == EINTR { continue }
                throw ImageError.unreadable(path, why: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            done += count
        }
        return done
    }
}

/// Where a blob's bytes are: a whole file of a layout folder, or a member of an image tarball.
public struct BlobLocation: Sendable {
    public let file: RandomAccessFile
    public let offset: Int
    public let size: Int

    /// All of the blob, for the small JSON documents (index, manifest, config), up to `limit` bytes.
    func readAll(limit: Int, what: String) throws -> [UInt8] {
        guard size <= limit else { throw ImageError.tooLarge(what, why: "\(size) bytes, more than the \(limit) a \(what) may have") }
        var bytes = [UInt8](repeating: 0, count: size)
        let read = try bytes.withUnsafeMutableBytes { try file.read(at: offset, into: $0) }
        guard read == size else { throw ImageError.unreadable(what, why: "the file ends \(size - read) bytes early") }
        return bytes
    }
}

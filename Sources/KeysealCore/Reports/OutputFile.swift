import Foundation

/// Writes a report or export. A regular file (or a new one) is written to a temporary file and
/// renamed into place, so a reader never sees half of it. Anything else that exists at the path (a
/// device such as /dev/null or /dev/stdout, a FIFO, a process substitution) is written in place:
/// renaming over it would replace /dev/null itself with a regular file.
public enum OutputFile {
    /// What the file is, as a failure names it: `cannot write the report to PATH: …` or `cannot write PATH: …`.
    public enum Kind: Sendable {
        case report, file
    }

    /// A file that could not be written: one line naming it and the system's reason.
    public struct WriteError: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let kind: Kind
        public let reason: String
        public var description: String {
            switch kind {
            case .report: return "cannot write the report to \(path): \(reason)"
            case .file: return "cannot write \(path): \(reason)"
            }
        }
    }

    /// Writes `data` to `path`, the one way every report and export is written. `privately`: the
    /// data holds clear secrets (`--show-secrets`), so the file is created mode 0600 before a byte
    /// is written, and keeps that mode when it replaces an existing file.
    public static func write(_ data: Data, to path: String, as kind: Kind, privately: Bool = false) throws(WriteError) {
        do {
            try writeBytes(data, to: path, privately: privately)
        } catch {
            throw WriteError(path: path, kind: kind, reason: error.localizedDescription)
        }
    }

    static func writeBytes(_ data: Data, to path: String, privately: Bool) throws {
        var status = stat()
        if stat(path, &status) == 0 && status.st_mode & S_IFMT != S_IFREG {
            guard let handle = FileHandle(forWritingAtPath: path) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            return
        }
        if privately {
            try writePrivately(data, to: path)
        } else {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        }
    }

    /// A failed system call, with the system's own words for it.
    struct Failure: LocalizedError {
        let step: String
        let code: Int32
        var errorDescription: String? { "\(step): \(String(cString: strerror(code)))" }
    }

    /// mkstemp creates the temporary file 0600 (and the fchmod makes sure of it whatever the
    /// platform), so the clear secrets are never readable by others, not even for a moment; it
    /// is then renamed over the destination, as an atomic write does.
    static func writePrivately(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var template = Array((folder + "/." + url.lastPathComponent + ".keyseal-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer in
            // Safe: the buffer is the non-empty, NUL-terminated template.
            mkstemp(buffer.baseAddress!)
        }
        guard fd >= 0 else { throw Failure(step: "cannot create a file in \(folder)", code: errno) }
        let temporary = template.withUnsafeBufferPointer { buffer in
            // Safe: mkstemp filled in the template and kept it NUL-terminated.
            String(cString: buffer.baseAddress!)
        }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            guard fchmod(fd, 0o600) == 0 else { throw Failure(step: "cannot set the mode of \(temporary)", code: errno) }
            try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                var offset = 0
                while offset < bytes.count {
                    // Safe: offset < count, so the base address exists.
                    let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw Failure(step: "cannot write \(path)", code: errno)
                    }
                    offset += n
                }
            }
            guard fsync(fd) == 0 else { throw Failure(step: "cannot write \(path)", code: errno) }
        }
        guard rename(temporary, path) == 0 else { throw Failure(step: "cannot move the report into place at \(path)", code: errno) }
        renamed = true
    }
}

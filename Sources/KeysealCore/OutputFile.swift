import Foundation

/// Writes a report or export. A regular file (or a new one) is written to a temporary file and
/// renamed into place, so a reader never sees half of it. Anything else that exists at the path (a
/// device such as /dev/null or /dev/stdout, a FIFO, a process substitution) is written in place:
/// renaming over it would replace /dev/null itself with a regular file.
public enum OutputFile {
    public static func write(_ data: Data, to path: String) throws {
        var status = stat()
        if stat(path, &status) == 0 && status.st_mode & S_IFMT != S_IFREG {
            guard let handle = FileHandle(forWritingAtPath: path) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            return
        }
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

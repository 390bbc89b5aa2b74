import CGit2
import Dispatch
import Foundation
import Synchronization

/// What the reader hands the scanning body for each blob.
public enum BlobContent {
    case bytes(UnsafeRawBufferPointer)
    /// Larger than the limit: not inflated at all.
    case tooLarge(size: Int)
    /// Not in the object database (a partial clone, or a damaged repository): nothing to read.
    case missing
}

/// What a blob reader's `rebuild` step did with a blob.
public enum RebuildStep: Sendable {
    /// It produced the blob's bytes itself (from its delta) and handed them to the scan.
    case done
    /// Not yet: ask again at the end of the batch (its base is still in another thread's hands).
    case later
    /// libgit2 is to read it.
    case read
}

/// Reads blobs on several threads, each with its own repository handle, in pack order so that
/// delta bases stay in libgit2's delta-base cache.
public enum BlobReader {
    /// Calls `body(worker, blobIndex, content)` once for each blob in `blobs`. `makeWorker` builds the
    /// per-thread state (engine scratch and buffers) that `body` receives.
    /// `order` lists the indexes of `blobs` to read, in the order to read them (default: all, in pack order).
    /// `rebuild`, when given, is asked first for each blob (see `RebuildStep`); a blob it puts off
    /// is asked about again once the rest of its batch is read, the last time (`lastChance`).
    /// `batch`: how many consecutive blobs of `order` a thread takes at a time.
    /// `afterBatch`, when given, is called on the worker's thread once every blob of a batch (the
    /// slice of `order` it was handed) has been through `body` or `rebuild`.
    public static func read<Worker>(
        _ blobs: [ObjectID], order: [Int]? = nil, repository: Repository, threads: Int, maxSize: Int,
        makeWorker: @Sendable () throws -> Worker,
        rebuild: (@Sendable (_ worker: inout Worker, _ index: Int, _ lastChance: Bool) throws -> RebuildStep)? = nil,
        batch: Int = 32,
        body: @Sendable (inout Worker, Int, BlobContent) throws -> Void,
        afterBatch: (@Sendable (_ worker: inout Worker, _ batch: ArraySlice<Int>) throws -> Void)? = nil,
        finish: @Sendable (inout Worker) -> Void
    ) throws {
        let order = order ?? packOrder(blobs, repository: repository)
        guard !order.isEmpty else { return }
        let workers = max(1, min(threads, order.count))
        let batch = max(1, batch)
        let next = Atomic<Int>(0)
        let failure = FirstError()
        nonisolated(unsafe) let repository = repository  // Only opens another handle, from immutable fields.
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            do {
                let repo = try repository.anotherHandle()
                let odb = try ObjectDatabase(repo)
                var worker = try makeWorker()
                defer { finish(&worker) }
                func readThroughLibgit2(_ index: Int) throws {
                    let id = blobs[index]
                    guard let size = try odb.size(of: id) else {
                        try body(&worker, index, .missing)
                        return
                    }
                    if size > maxSize {
                        try body(&worker, index, .tooLarge(size: size))
                        return
                    }
                    try odb.withBlob(id) { try body(&worker, index, .bytes($0)) }
                }
                var later: [Int] = []
                while failure.error == nil {
                    let start = next.add(batch, ordering: .relaxed).oldValue
                    if start >= order.count { break }
                    let end = min(start + batch, order.count)
                    for slot in start..<end {
                        let index = order[slot]
                        switch try rebuild?(&worker, index, false) ?? .read {
                        case .done: continue
                        case .later: later.append(index)
                        case .read: try readThroughLibgit2(index)
                        }
                    }
                    for index in later where try rebuild?(&worker, index, true) != .done {
                        try readThroughLibgit2(index)
                    }
                    later.removeAll(keepingCapacity: true)
                    try afterBatch?(&worker, order[start..<end])
                }
            } catch {
                failure.record(error)
            }
        }
        if let error = failure.error { throw error }
    }
}

extension BlobReader {
    /// Indexes of `blobs` in the order their packs store them (loose objects last).
    public static func packOrder(_ blobs: [ObjectID], repository: Repository) -> [Int] {
        PackOrder(commonDirectory: repository.commonDirectory).sorted(blobs)
    }
}

/// The object database of one repository handle.
final class ObjectDatabase {
    let repo: Repository
    let handle: OpaquePointer

    init(_ repo: Repository) throws {
        self.repo = repo
        var odb: OpaquePointer?
        try check(git_repository_odb(&odb, repo.handle), "git_repository_odb")
        handle = odb!  // Safe: success sets the out pointer.
    }
    deinit { git_odb_free(handle) }

    /// The inflated size, read from the object header without inflating the object; nil when the
    /// object is not in the database (any other failure is an error).
    func size(of id: ObjectID) throws -> Int? {
        var oid = id.gitOID
        var length = 0
        var type = GIT_OBJECT_ANY
        let status = git_odb_read_header(&length, &type, handle, &oid)
        if status == GIT_ENOTFOUND.rawValue { return nil }
        if status < 0 { throw repo.objectError(status, "git_odb_read_header", "blob", id) }
        return length
    }

    func withBlob<T>(_ id: ObjectID, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        var oid = id.gitOID
        var blob: OpaquePointer?
        let status = git_blob_lookup(&blob, repo.handle, &oid)
        if status < 0 { throw repo.objectError(status, "git_blob_lookup", "blob", id) }
        defer { git_blob_free(blob) }
        let size = Int(git_blob_rawsize(blob))
        return try body(UnsafeRawBufferPointer(start: git_blob_rawcontent(blob), count: size))
    }
}

/// Pack offsets from the `.idx` (version 2) files, which libgit2 does not expose. Objects not found
/// in any pack (loose ones) sort last. Format: git's Documentation/gitformat-pack.txt. An index that
/// does not hold together (a stray or damaged file, which git ignores too) is ignored: it only
/// orders reads, so ignoring it costs speed, never findings.
struct PackOrder {
    private(set) var indexes: [Data] = []
    /// The `.pack` file beside each index (same order).
    private(set) var packPaths: [String] = []

    init(commonDirectory: String) {
        let folder = Repository.packFolder(commonDirectory: commonDirectory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in names.sorted() where name.hasSuffix(".idx") {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped),
                  data.withUnsafeBytes(Self.isValid)
            else { continue }
            indexes.append(data)
            packPaths.append(String(path.dropLast(4)) + ".pack")
        }
    }

    /// Whether `raw` is a version-2 pack index whose tables lie inside it: the magic and version, a
    /// fan-out that never decreases (so every bound is at most its last value, the object count),
    /// and a size that fits the count: names, CRCs and offsets, at most one large offset per object,
    /// and the two trailing checksums. Every read `offset(of:in:)` makes is then in bounds.
    static func isValid(_ raw: UnsafeRawBufferPointer) -> Bool {
        let header: [UInt8] = [0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]
        guard raw.count >= header.count + 1024 + 40, raw.prefix(header.count).elementsEqual(header) else { return false }
        func u32(_ at: Int) -> Int { Int(UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        var previous = 0
        for slot in 0..<256 {
            let bound = u32(8 + slot * 4)
            if bound < previous { return false }
            previous = bound
        }
        let count = previous
        let smallest = 8 + 1024 + count * 28 + 40
        // libgit2's bound: at most one large offset per object but the first.
        guard raw.count >= smallest && raw.count <= smallest + max(count - 1, 0) * 8 else { return false }
        // Names strictly increasing, each in its fan-out bucket: a binary search then finds every
        // id libgit2 finds (it also accepts an exact match where its search stops).
        var bucket = 0
        for i in 0..<count {
            let name = 8 + 1024 + i * 20
            let first = Int(raw[name])
            while bucket < 256 && u32(8 + bucket * 4) <= i { bucket += 1 }
            guard first == bucket else { return false }
            if i > 0 && memcmp(raw.baseAddress! + name - 20, raw.baseAddress! + name, 20) >= 0 { return false }
        }
        return true
    }

    /// Per blob: its first pack's number << 48 | its offset in that pack (`.max` when in no pack),
    /// and, when `duplicates` is asked for, whether another pack holds it too.
    func locations(_ blobs: [ObjectID], duplicates: Bool = false) -> (keys: [UInt64], duplicated: [Bool]) {
        var keys = [UInt64](repeating: .max, count: blobs.count)
        var duplicated = [Bool](repeating: false, count: duplicates ? blobs.count : 0)
        for (packNumber, data) in indexes.enumerated() {
            data.withUnsafeBytes { raw in
                for i in blobs.indices where duplicates || keys[i] == .max {
                    if let offset = Self.offset(of: blobs[i], in: raw), offset < 1 << 48 {
                        if keys[i] == .max { keys[i] = UInt64(packNumber) << 48 | offset } else { duplicated[i] = true }
                    }
                }
            }
        }
        return (keys, duplicated)
    }

    /// Indexes of `blobs` in the order their packs store them.
    func sorted(_ blobs: [ObjectID]) -> [Int] {
        guard !indexes.isEmpty else { return Array(blobs.indices) }
        let keys = locations(blobs).keys
        return blobs.indices.sorted { keys[$0] != keys[$1] ? keys[$0] < keys[$1] : $0 < $1 }
    }

    static func offset(of id: ObjectID, in raw: UnsafeRawBufferPointer) -> UInt64? {
        func u32(_ at: Int) -> UInt32 { UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        let target = id.bytes
        let first = Int(target[0])
        let count = Int(u32(8 + 255 * 4))
        var low = first == 0 ? 0 : Int(u32(8 + (first - 1) * 4))
        var high = Int(u32(8 + first * 4))
        let names = 8 + 1024
        // `isValid` checked that the fan-out never decreases and the tables fit; this guards again.
        guard low <= high, high <= count, raw.count >= names + count * 28 else { return nil }
        while low < high {
            let mid = (low + high) / 2
            let order = target.withUnsafeBytes { memcmp($0.baseAddress!, raw.baseAddress! + names + mid * 20, 20) }
            if order == 0 {
                let offsets = names + count * 24  // after names (20 each) and CRC32s (4 each)
                let small = u32(offsets + mid * 4)
                if small & 0x8000_0000 == 0 { return UInt64(small) }
                let large = offsets + count * 4 + Int(small & 0x7fff_ffff) * 8
                guard large + 8 <= raw.count - 40 else { return nil }  // before the two checksums, as libgit2 wants
                return UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: large, as: UInt64.self))
            }
            if order < 0 { high = mid } else { low = mid + 1 }
        }
        return nil
    }
}

import CDeflate
import Foundation

/// Objects the history walk reads by the tens of thousands (its commits), read straight from the
/// pack files when stored whole, and inflated with libdeflate: through libgit2 the walk's commits
/// spent more than half their time in zlib. One thread's; deltas and anything else go to libgit2.
///
/// What is read here is what libgit2 would read: the same entry (held by one pack alone, in no loose
/// file, with no multi-pack-index or alternates about), inflated to its stated size. libdeflate takes
/// a few codes DEFLATE reserves that zlib refuses (see `PackDeltas`): such an object, which no git
/// can read, is then read rather than refused. Not used when every object read must be checked
/// against its id (libgit2 checks what it reads).
final class PackObjects {
    private let packs: [(descriptor: Int32, size: Int)]
    private let indexes: [Data]
    private let loose: Set<ObjectID>
    private let decompressor: OpaquePointer
    private var compressed: [UInt8] = []
    /// Commits are read about in the order a pack stores them (newest first).
    private let window = PackWindow()
    private var out: [UInt8] = []
    /// Larger objects are left to libgit2.
    static let maxObject = 1 << 20

    /// nil when the packs cannot all be read here (libgit2 then reads every object).
    init?(repository: Repository) {
        let order = PackOrder(commonDirectory: repository.commonDirectory)
        guard !order.indexes.isEmpty, PackDeltas.everyPackIndexed(order, commonDirectory: repository.commonDirectory),
              let decompressor = libdeflate_alloc_decompressor()
        else { return nil }
        let packs = PackDeltas.openPacks(order)
        guard packs.allSatisfy({ $0.descriptor >= 0 }) else {
            for pack in packs where pack.descriptor >= 0 { close(pack.descriptor) }
            libdeflate_free_decompressor(decompressor)
            return nil
        }
        self.packs = packs
        self.decompressor = decompressor
        indexes = order.indexes
        loose = PackDeltas.looseObjects(commonDirectory: repository.commonDirectory)
    }

    deinit {
        for pack in packs { close(pack.descriptor) }
        libdeflate_free_decompressor(decompressor)
    }

    /// Object `id`'s bytes (valid during `body`) when one pack stores it whole, of git type `type`
    /// (1 commit, 2 tree, 3 blob, 4 tag); nil otherwise.
    func whole<T>(_ id: ObjectID, type: Int, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T? {
        guard !loose.contains(id) else { return nil }
        var location: (pack: Int, offset: Int)? = nil
        for (number, index) in indexes.enumerated() {
            guard let offset = index.withUnsafeBytes({ PackOrder.offset(of: id, in: $0) }) else { continue }
            guard location == nil, offset < 1 << 48 else { return nil }  // in two packs: libgit2 picks
            location = (number, Int(offset))
        }
        guard let location, let header = PackDeltas.header(packs, location.pack, at: location.offset, window: window),
              header.type == type, header.size > 0, header.size <= Self.maxObject
        else { return nil }
        if out.count < header.size { out = [UInt8](repeating: 0, count: max(header.size, 1 << 16)) }
        let inflated = out.withUnsafeMutableBytes { out in
            PackDeltas.inflateEntry(header, in: packs, location.pack, window: window, compressed: &compressed,
                                    decompressor: decompressor, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<header.size]))
        }
        guard inflated else { return nil }
        return try out.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<header.size])) }
    }
}

import Dispatch
import Foundation
import KeysealEngine
import KeysealGit
import Synchronization

/// Records a history scan's results in the store as the scanning threads finish them, on a thread
/// of its own. Each thread hands over every batch it finishes (the blobs, what they held, which were
/// not fully scanned); once `chunkSize` blobs are waiting they are recorded in one transaction, while
/// the threads read on. Any set of fully scanned blobs is a valid record, so the scan no longer stops
/// every thread at chunk boundaries for the store (it had: eight joins in a redis scan, each with a
/// thread idle until the other finished its batch). Transactions run one at a time, in the order handed over.
///
/// Whatever waits when the scan ends is recorded while the scan waits, so with `Sizing.shrinking`
/// chunks shrink towards the end: a chunk is at most half of the blobs not yet handed over (and at
/// least `floor`). Blob ids are random keys, so a chunk's transaction touches most of the table's
/// pages whatever its size: few large chunks while the scan runs, small ones only at its end. In
/// redis (32,525 blobs) the last of four quarter chunks had the scan wait 25 ms at its end.
final class ChunkRecorder: @unchecked Sendable {
    private struct Pending {
        var blobs: [Int] = []
        var found: [BlobMatches] = []
        var incomplete = Set<Int>()
    }

    /// How many blobs make a chunk.
    enum Sizing {
        /// Always this many (the last chunk: what is left).
        case fixed(Int)
        /// At most `chunk` and at most half of the blobs (of `total`) not yet handed over, but at least `floor`.
        case shrinking(chunk: Int, total: Int, floor: Int)

        func size(handedOver: Int) -> Int {
            switch self {
            case .fixed(let size): return max(1, size)
            case .shrinking(let chunk, let total, let floor): return max(1, floor, min(chunk, (total - handedOver) / 2))
            }
        }
    }

    private let session: StoreSession
    private let history: HistoryIndex
    private let rules: [Rule]
    private let sizing: Sizing
    private let afterChunk: (@Sendable (Int) -> Void)?
    private let queue = DispatchQueue(label: "keyseal.store-recorder")
    private let group = DispatchGroup()
    private let failure = Mutex<Error?>(nil)
    /// The blobs waiting, and how many have gone into chunks before them.
    private let pending = Mutex((waiting: Pending(), handedOver: 0))
    // Touched on `queue` only, and read after `drain`.
    private var recorded = 0
    private(set) var seconds = 0.0
    /// CPU time of the recording thread, and how long `finish` waited for the chunks still being recorded.
    private(set) var cpuSeconds = 0.0
    private(set) var tailSeconds = 0.0

    init(_ session: StoreSession, history: HistoryIndex, rules: [Rule], sizing: Sizing, afterChunk: (@Sendable (Int) -> Void)?) {
        self.session = session
        self.history = history
        self.rules = rules
        self.sizing = sizing
        self.afterChunk = afterChunk
    }

    /// Takes a finished batch; records a chunk in the background once enough blobs wait. Throws an
    /// earlier chunk's failure, so the scan stops instead of reading on for nothing.
    func add(_ blobs: ArraySlice<Int>, found: some Sequence<BlobMatches>, incomplete: some Sequence<Int>) throws {
        if let error = failure.withLock({ $0 }) { throw error }
        let ready: [Pending] = pending.withLock { state in
            state.waiting.blobs += blobs
            state.waiting.found += found
            state.waiting.incomplete.formUnion(incomplete)
            var ready: [Pending] = []
            while case let size = sizing.size(handedOver: state.handedOver), state.waiting.blobs.count >= size {
                ready.append(Self.split(&state.waiting, first: size))
                state.handedOver += size
            }
            return ready
        }
        for chunk in ready { submit(chunk) }
    }

    /// Records what still waits, then waits until every chunk is recorded; throws the first failure.
    func finish() throws {
        let start = Date()
        defer { tailSeconds = Date().timeIntervalSince(start) }
        let rest = pending.withLock { state in
            defer { state.waiting = Pending() }
            return state.waiting
        }
        if !rest.blobs.isEmpty { submit(rest) }
        try drain()
    }

    /// Waits until every chunk handed over is recorded; throws the first failure.
    func drain() throws {
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// The first `count` waiting blobs, with their matches and marks, taken out of `waiting`.
    private static func split(_ waiting: inout Pending, first count: Int) -> Pending {
        if waiting.blobs.count == count {
            defer { waiting = Pending() }
            return waiting
        }
        var chunk = Pending()
        chunk.blobs = Array(waiting.blobs.prefix(count))
        waiting.blobs.removeFirst(count)
        let members = Set(chunk.blobs)
        var rest: [BlobMatches] = []
        for entry in waiting.found {
            if members.contains(entry.blob) { chunk.found.append(entry) } else { rest.append(entry) }
        }
        waiting.found = rest
        chunk.incomplete = waiting.incomplete.intersection(members)
        waiting.incomplete.subtract(chunk.incomplete)
        return chunk
    }

    private func submit(_ chunk: Pending) {
        let chunk = UncheckedSendable(chunk)
        group.enter()
        queue.async { [self] in
            defer { group.leave() }
            // After a failure nothing more is written: the scan is stopping.
            if failure.withLock({ $0 != nil }) { return }
            let start = Date()
            var cpu = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu)
            defer {
                var now = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
                cpuSeconds += Double(now.tv_sec - cpu.tv_sec) + Double(now.tv_nsec - cpu.tv_nsec) / 1e9
            }
            do {
                try session.record(chunk.value.blobs, history: history, found: chunk.value.found, rules: rules,
                                   incomplete: chunk.value.incomplete)
                recorded += 1
                seconds += Date().timeIntervalSince(start)
                afterChunk?(recorded)
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
    }
}

/// A value handed to one other thread and no longer touched by the one that made it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

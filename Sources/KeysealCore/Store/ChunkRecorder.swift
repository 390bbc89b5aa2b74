import Dispatch
import Foundation
import KeysealEngine
import KeysealGit
import Synchronization

/// Records a history scan's chunks in the store on a thread of its own, while the scan reads the next
/// chunk (the store's transaction had been a pause between chunks with every scanning thread idle).
/// One chunk at most is in flight, so chunks commit in order and their records are the only ones held.
/// The session is used by this thread alone until `drain` returns.
final class ChunkRecorder: @unchecked Sendable {
    private let session: StoreSession
    private let afterChunk: (@Sendable (Int) -> Void)?
    private let queue = DispatchQueue(label: "keyseal.store-recorder")
    private let group = DispatchGroup()
    private let failure = Mutex<Error?>(nil)
    // Touched on `queue` only, and read after `drain`.
    private var recorded = 0
    private(set) var seconds = 0.0

    init(_ session: StoreSession, afterChunk: (@Sendable (Int) -> Void)?) {
        self.session = session
        self.afterChunk = afterChunk
    }

    /// Waits for the chunk before (throwing its error, if it failed), then records this one in the background.
    func record(_ chunk: [Int], history: HistoryIndex, found: [BlobMatches], rules: [Rule], incomplete: Set<Int>) throws {
        try drain()
        let found = UncheckedSendable(found)
        group.enter()
        queue.async { [self] in
            defer { group.leave() }
            let start = Date()
            do {
                try session.record(chunk, history: history, found: found.value, rules: rules, incomplete: incomplete)
                recorded += 1
                seconds += Date().timeIntervalSince(start)
                afterChunk?(recorded)
            } catch {
                failure.withLock { $0 = error }
            }
        }
    }

    /// Waits until every chunk handed over is recorded; throws the first failure.
    func drain() throws {
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

/// A value handed to one other thread and no longer touched by the one that made it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

import CGit2
import Foundation

/// Where commits are exposed: which refs contain them.
public struct Exposure: Sendable {
    /// For each target commit, the refs (full names) whose history contains it.
    public let containing: [ObjectID: [String]]
    /// The commit each tag peels to.
    public let tagCommits: [String: ObjectID]
}

extension Repository {
    /// Which refs contain each of `targets`. One pass over the commit graph, parents first, carrying
    /// the set of targets each commit reaches, so the cost is the graph's size, not refs × targets.
    public func exposure(of targets: [ObjectID]) throws -> Exposure {
        let (tips, _) = try tips()
        var tagCommits: [String: ObjectID] = [:]
        for tip in tips where tip.name.hasPrefix("refs/tags/") { tagCommits[tip.name] = tip.commit }
        guard !targets.isEmpty else { return Exposure(containing: [:], tagCommits: tagCommits) }
        let targetIndex = Dictionary(targets.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        let words = (targets.count + 63) / 64
        let shallow = shallowBoundary()

        // Load the graph reachable from every tip.
        var parents: [ObjectID: [ObjectID]] = [:]
        var stack = tips.map(\.commit)
        while let id = stack.popLast() {
            if parents[id] != nil { continue }
            let info = try commit(id)
            let known = shallow.contains(id) ? [] : info.parents
            parents[id] = known
            stack.append(contentsOf: known.filter { parents[$0] == nil })
        }
        // Post-order (parents first), then propagate.
        var reach: [ObjectID: [UInt64]] = [:]
        for start in Set(tips.map(\.commit)) {
            var frames: [(ObjectID, Int)] = [(start, 0)]
            while case (let id, var next)? = frames.popLast() {
                if next == 0 && reach[id] != nil { continue }
                let ps = parents[id] ?? []
                var descended = false
                while next < ps.count {
                    let parent = ps[next]
                    next += 1
                    if reach[parent] == nil {
                        frames.append((id, next))
                        frames.append((parent, 0))
                        descended = true
                        break
                    }
                }
                if descended { continue }
                var bits = [UInt64](repeating: 0, count: words)
                for parent in ps {
                    if let parentBits = reach[parent] { for w in 0..<words { bits[w] |= parentBits[w] } }
                }
                if let t = targetIndex[id] { bits[t / 64] |= 1 << UInt64(t % 64) }
                reach[id] = bits
            }
        }
        var containing: [ObjectID: [String]] = [:]
        for tip in tips {
            guard let bits = reach[tip.commit] else { continue }
            for (target, t) in targetIndex where bits[t / 64] & (1 << UInt64(t % 64)) != 0 {
                containing[target, default: []].append(tip.name)
            }
        }
        for key in containing.keys { containing[key]?.sort() }
        return Exposure(containing: containing, tagCommits: tagCommits)
    }

    /// Whether HEAD's tree has exactly this blob at this path.
    public func headHas(blob: ObjectID, at path: String) throws -> Bool {
        guard let head = try headCommit() else { return false }
        return try TreeDiffer(repo: self).entryID(in: commit(head).tree, path: Array(path.utf8)) == blob
    }

    /// When the first-parent line of HEAD stopped holding every one of `placements` (blob at path):
    /// the author time of the first commit, after they were introduced, in which none is left. Nil
    /// when none was ever on that line. A secret still in HEAD is not asked about (callers check
    /// `headHas` first), so presence on the line runs present-then-absent and a binary search finds
    /// the edge in O(log n) tree lookups instead of one per commit.
    public func removalTime(of placements: [(blob: ObjectID, path: String)], introducedAt: Int64) throws -> Int64? {
        guard let head = try headCommit() else { return nil }
        var line: [CommitInfo] = []
        var id: ObjectID? = head
        let shallow = shallowBoundary()
        while let current = id {
            let info = try commit(current)
            line.append(info)
            id = shallow.contains(current) ? nil : info.parents.first
        }
        line.reverse()  // oldest first
        let differ = TreeDiffer(repo: self)
        func present(_ index: Int) throws -> Bool {
            for placement in placements where try differ.entryID(in: line[index].tree, path: Array(placement.path.utf8)) == placement.blob {
                return true
            }
            return false
        }
        // The first commit on the line at or after the introduction (commit times are nearly ordered),
        // then forward to where the secret is actually present.
        var start = line.firstIndex { $0.time >= introducedAt } ?? line.count
        var probes = 0
        while start < line.count, try !present(start) {
            start += 1
            probes += 1
            if probes > 256 { return nil }  // never reached the first-parent line
        }
        guard start < line.count else { return nil }
        var low = start, high = line.count - 1  // present at `low`; absent at the end (not in HEAD)
        if try present(high) { return nil }
        while high - low > 1 {
            let mid = (low + high) / 2
            if try present(mid) { low = mid } else { high = mid }
        }
        return try author(of: line[high].id).time
    }
}

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
            while var (id, next) = frames.popLast() {
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
    /// the author time of the first commit after all of them were introduced in which none is left.
    /// Nil when one is still in HEAD or none was ever on that line.
    public func removalTime(of placements: [(blob: ObjectID, path: String)]) throws -> Int64? {
        guard let head = try headCommit() else { return nil }
        var line: [CommitInfo] = []
        var id: ObjectID? = head
        let shallow = shallowBoundary()
        while let current = id {
            let info = try commit(current)
            line.append(info)
            id = shallow.contains(current) ? nil : info.parents.first
        }
        let differ = TreeDiffer(repo: self)
        var seen = false
        var removal: Int64? = nil
        for info in line.reversed() {
            var present = false
            for placement in placements where try differ.entryID(in: info.tree, path: Array(placement.path.utf8)) == placement.blob {
                present = true
                break
            }
            if present {
                seen = true
                removal = nil
            } else if seen && removal == nil {
                removal = try author(of: info.id).time
            }
        }
        return seen ? removal : nil
    }
}

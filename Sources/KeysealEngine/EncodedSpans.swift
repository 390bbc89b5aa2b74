import Foundation

/// Where a text may hold other text in an encoding: extra Vectorscan patterns compiled into the
/// rules' database (ids after the rules'), so finding them costs no extra pass over the bytes.
/// Each has a literal to anchor on: an unanchored "any long base64 run" locator made every scan 2.5
/// times slower.
enum SpanLocator: Int, CaseIterable {
    /// `kind: Secret`: the values under `data:` are base64.
    case kubernetesSecret
    /// A name that says its value is base64 (`TOKEN_B64=`, `base64_key:`).
    case base64Assigned
    /// The base64 of a PEM header or of a service-account JSON file.
    case base64Header
    /// Two percent escapes close together.
    case percent
    /// A JSON string escape that hides a token's characters (`\/`, `\u002f`).
    case jsonEscape
    /// `"kind": "Secret"`: a Kubernetes Secret written as JSON; the values in `"data": {…}` are base64.
    case kubernetesSecretJSON
    /// `INSERT INTO t (a, b) VALUES (…)` and `UPDATE t SET v = … WHERE k = 'NAME'`: a value's name is
    /// a column (or a row's key) written apart from it. The statement is rewritten as `name = value`
    /// lines (encoding `sql`), so every named rule sees the name beside the value.
    case sqlStatement

    /// Whitespace crosses at most one line break: a pattern that may span any number of newlines
    /// is scanned over every revision whole in a history scan, not over what each delta changed.
    var pattern: String {
        switch self {
        case .kubernetesSecret: return "^[ \\t]*kind:[ \\t]*[\"']?Secret[\"']?[ \\t]*\\r?$"
        case .base64Assigned: return "(?:b64|base64)[A-Za-z0-9_.-]{0,20}[\"']?[ \\t]*(?::=|=>|=|:)[ \\t]*[\"']?[A-Za-z0-9+/_-]{16}"
        case .base64Header:
            // "-----BEGIN ", and `{"type": "service_account"` in the spacings JSON writers use.
            return "LS0tLS1CRUdJTi|ewogICJ0eXBlIjogInNlcnZpY2VfYWNjb3VudC|eyJ0eXBlIjoic2VydmljZV9hY2NvdW50|eyJ0eXBlIjogInNlcnZpY2VfYWNjb3VudC|eyAidHlwZSI6ICJzZXJ2aWNlX2FjY291bnQi"
        case .percent: return "%[2-7][0-9A-Fa-f][^%\\s]{0,64}%[2-7][0-9A-Fa-f]"
        case .jsonEscape: return "\\\\/|\\\\u00[0-9A-Fa-f]{2}"
        case .kubernetesSecretJSON: return "\"kind\"[ \\t]*:[ \\t]*\"Secret\""
        case .sqlStatement: return "insert[ \\t]+(?:ignore[ \\t]+)?into[ \\t]+[^ \\t\\r\\n(]{1,128}(?:[ \\t]*\\r?\\n)?[ \\t]*\\(|update[ \\t]+[^ \\t\\r\\n]{1,128}(?:[ \\t]+\\r?\\n?|\\r?\\n)[ \\t]*set\\s"
        }
    }

    /// Compiled after the rules, so a hit's id tells rule from locator.
    static let rules: [Rule] = allCases.map {
        Rule(id: "locator-\($0.rawValue)", provider: "", description: "", regex: $0.pattern,
             caseless: $0 == .base64Assigned || $0 == .sqlStatement, positives: [], negatives: [])
    }
}

/// Text decoded from a span of the scanned buffer.
struct EncodedSpan {
    let range: Range<Int>
    let decoded: [UInt8]
    let encoding: String
}

/// Bounds on what one blob's decoding may cost.
struct DecodeBudget {
    static let maxDepth = 3
    /// A line (percent, JSON escapes) or base64 run decoding to more than this is not decoded.
    static let maxSpanBytes = 1 << 20
    var bytesLeft = 8 << 20
    var spansLeft = 2_000
    /// Bytes the locators walked over and decoded (for tests: linear in the input).
    var bytesExamined = 0
    /// Set when a bound left encoded text undecoded (spans or bytes spent, a line too long): the blob
    /// is marked `ScanGaps.decodedInPart`.
    var partial = false
}

enum EncodedSpans {
    /// Decodes the spans the locator hits point at. Each kind remembers how far its last span
    /// reached, and a hit inside it is skipped before any walking: every byte is walked and decoded
    /// at most once per kind, whatever the number of hits (a line of `%41%41…`, a run of repeated
    /// base64 PEM headers).
    static func find(_ locators: [(SpanLocator, Int)], in bytes: UnsafeBufferPointer<UInt8>,
                     budget: inout DecodeBudget) -> [EncodedSpan] {
        var spans: [EncodedSpan] = []
        var seenRanges = Set<Range<Int>>()
        func add(_ range: Range<Int>, _ encoding: String, _ decode: () -> [UInt8]?) {
            guard budget.spansLeft > 0, !seenRanges.contains(range) else { return }
            budget.bytesExamined += range.count
            guard let decoded = decode(), !decoded.isEmpty else { return }
            guard budget.bytesLeft >= decoded.count else {
                budget.partial = true
                return
            }
            seenRanges.insert(range)
            budget.spansLeft -= 1
            budget.bytesLeft -= decoded.count
            spans.append(EncodedSpan(range: range, decoded: decoded, encoding: encoding))
        }
        // Vectorscan reports hits in order of their end; the covered-range check relies on it.
        var ordered = locators
        if zip(locators, locators.dropFirst()).contains(where: { $0.1 > $1.1 }) { ordered.sort { $0.1 < $1.1 } }
        // Per kind: the end of the last span (or line) handled.
        var covered = [Int](repeating: 0, count: SpanLocator.allCases.count)
        var kubernetesDone = false, kubernetesJSONDone = false
        for (kind, end) in ordered {
            if budget.spansLeft == 0 {
                budget.partial = true
                break
            }
            switch kind {
            case .kubernetesSecret:
                if kubernetesDone { continue }
                kubernetesDone = true
                budget.bytesExamined += bytes.count
                for value in kubernetesDataValues(bytes) { add(value, "base64") { decodeBase64Text(bytes, value) } }
            case .kubernetesSecretJSON:
                if kubernetesJSONDone { continue }
                kubernetesJSONDone = true
                budget.bytesExamined += bytes.count
                for value in kubernetesJSONDataValues(bytes) { add(value, "base64") { decodeBase64Text(bytes, value) } }
            case .base64Assigned:
                // The value starts where the locator's 16 base64 characters do.
                guard end - 16 >= covered[kind.rawValue] else { continue }
                let start = base64Start(bytes, from: end - 16, floor: covered[kind.rawValue])
                let stop = base64End(bytes, from: end, wraps: false)
                budget.bytesExamined += stop - start
                covered[kind.rawValue] = stop
                add(start..<stop, "base64") { decodeBase64Text(bytes, start..<stop) }
            case .base64Header:
                guard end > covered[kind.rawValue] else { continue }
                let start = base64Start(bytes, from: end - 1, floor: covered[kind.rawValue])
                let stop = base64End(bytes, from: end, wraps: true)
                budget.bytesExamined += stop - start
                covered[kind.rawValue] = stop
                add(start..<stop, "base64") { decodeBase64Text(bytes, start..<stop) }
            case .sqlStatement:
                guard end - 1 >= covered[kind.rawValue] else { continue }
                var start = Matcher.lineStart(bytes, before: end - 1)
                // `UPDATE t` on one line and `SET …` on the next: the statement starts a line earlier.
                if start > 0 && !SQLStatement.startsStatement(bytes, at: start) {
                    start = Matcher.lineStart(bytes, before: start - 1)
                }
                guard start >= covered[kind.rawValue] else { continue }
                // Read once, whether or not it parses: how far the reader got is covered either way.
                let (stop, text) = SQLStatement.assignments(bytes, from: start)
                budget.bytesExamined += stop - start
                covered[kind.rawValue] = max(stop, Matcher.lineEnd(bytes, from: end - 1))
                if let text { add(start..<stop, "sql") { text } }
            case .percent, .jsonEscape:
                // `covered` is the end of the line last decoded: a hit before it is on that line.
                guard end - 1 >= covered[kind.rawValue] else { continue }
                let lineStart = Matcher.lineStart(bytes, before: end - 1), lineEnd = Matcher.lineEnd(bytes, from: end - 1)
                budget.bytesExamined += lineEnd - lineStart
                covered[kind.rawValue] = lineEnd + 1
                guard lineEnd - lineStart <= DecodeBudget.maxSpanBytes else {
                    budget.partial = true
                    continue
                }
                let line = UnsafeBufferPointer(rebasing: bytes[lineStart..<lineEnd])
                add(lineStart..<lineEnd, kind == .percent ? "percent" : "json-escape") {
                    kind == .percent ? percentDecode(line) : jsonUnescape(line)
                }
            }
        }
        return spans
    }

    /// Where a base64 run that reaches `from` begins: back over base64 characters, not past `floor`
    /// and not over `=` (which ends the assignment before the value, or padding before it).
    static func base64Start(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, floor: Int) -> Int {
        var start = from
        while start > floor && isBase64(bytes[start - 1]) && bytes[start - 1] != 0x3d { start -= 1 }
        return start
    }

    /// Where a base64 run that continues at `from` ends: after its padding (a character after `=`
    /// starts another run), and with `wraps`, across line breaks (but not ending on one).
    static func base64End(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, wraps: Bool) -> Int {
        var stop = from, end = from
        var padded = false
        while stop < bytes.count {
            let byte = bytes[stop]
            let value = Base64Bytes.values[Int(byte)]
            if value == 255 {
                guard wraps && (byte == 0x0a || byte == 0x0d) else { break }
                stop += 1
                continue
            }
            if value == 64 { padded = true } else if padded { break }
            stop += 1
            end = stop
        }
        return end
    }

    @inline(__always) static func isBase64(_ byte: UInt8) -> Bool {
        let value = Base64Bytes.values[Int(byte)]
        return value != 255
    }

    /// Decodes `range` when it is base64 of text (at least 6 bytes, at least 90% printable, no NUL):
    /// a random token that happens to be valid base64 decodes to noise and is left alone.
    static func decodeBase64Text(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> [UInt8]? {
        guard range.count >= 8, range.count <= DecodeBudget.maxSpanBytes * 4 / 3 else { return nil }
        let compact = bytes[range].filter { $0 != 0x0a && $0 != 0x0d }
        guard let decoded = Base64Bytes.decode(compact), decoded.count >= 6 else { return nil }
        var printable = 0
        for byte in decoded {
            if byte == 0 { return nil }
            if (byte >= 0x20 && byte < 0x7f) || byte == 0x09 || byte == 0x0a || byte == 0x0d || byte >= 0x80 { printable += 1 }
        }
        return printable * 10 >= decoded.count * 9 ? decoded : nil
    }

    /// The `data:` values of a Kubernetes Secret: `  key: <base64>` lines indented under `data:`.
    static func kubernetesDataValues(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var values: [Range<Int>] = []
        var dataIndent: Int? = nil
        var lineStart = 0
        while lineStart < bytes.count {
            let lineEnd = Matcher.lineEnd(bytes, from: lineStart)
            var indent = 0
            while lineStart + indent < lineEnd && bytes[lineStart + indent] == 0x20 { indent += 1 }
            let content = lineStart + indent
            let text = bytes[content..<lineEnd]
            if text.starts(with: "data:".utf8) && text.dropFirst(5).allSatisfy({ $0 == 0x20 || $0 == 0x0d }) {
                dataIndent = indent
            } else if let parent = dataIndent, !text.isEmpty, text.first != 0x23 {
                if indent <= parent {
                    dataIndent = nil
                } else if let colon = text.firstIndex(of: 0x3a) {
                    var start = colon + 1
                    while start < lineEnd && (bytes[start] == 0x20 || bytes[start] == 0x22 || bytes[start] == 0x27) { start += 1 }
                    var stop = start
                    while stop < lineEnd && isBase64(bytes[stop]) { stop += 1 }
                    if stop > start { values.append(start..<stop) }
                }
            }
            lineStart = lineEnd + 1
        }
        return values
    }

    /// The string values inside each `"data": { … }` object (no nested objects in a Secret's data).
    static func kubernetesJSONDataValues(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        let key = Array("\"data\"".utf8)
        var values: [Range<Int>] = []
        var at = 0
        while at + key.count < bytes.count {
            guard bytes[at] == 0x22, bytes[at..<(at + key.count)].elementsEqual(key) else { at += 1; continue }
            var i = at + key.count
            while i < bytes.count && (bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0a || bytes[i] == 0x0d) { i += 1 }
            guard i < bytes.count, bytes[i] == 0x3a else { at += 1; continue }
            i += 1
            while i < bytes.count && (bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0a || bytes[i] == 0x0d) { i += 1 }
            guard i < bytes.count, bytes[i] == 0x7b else { at += 1; continue }
            // Inside the object: strings alternate key, value; stop at the closing brace.
            var strings = 0
            i += 1
            while i < bytes.count && bytes[i] != 0x7d {
                if bytes[i] == 0x22 {
                    let start = i + 1
                    var end = start
                    while end < bytes.count && bytes[end] != 0x22 { end += bytes[end] == 0x5c ? 2 : 1 }
                    if strings % 2 == 1 && end <= bytes.count { values.append(start..<min(end, bytes.count)) }
                    strings += 1
                    i = end + 1
                } else {
                    i += 1
                }
            }
            at = i
        }
        return values
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    /// Nil when nothing changes.
    static func percentDecode(_ line: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(line.count)
        var i = 0, changed = false
        while i < line.count {
            if line[i] == 0x25, i + 2 < line.count, let high = hexValue(line[i + 1]), let low = hexValue(line[i + 2]) {
                out.append(high << 4 | low)
                i += 3
                changed = true
            } else {
                out.append(line[i])
                i += 1
            }
        }
        return changed ? out : nil
    }

    /// `\/`, `\"`, `\\` and `\uXXXX` (as UTF-8); `\n` stays as it is, which the key rules read.
    static func jsonUnescape(_ line: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(line.count)
        var i = 0, changed = false
        while i < line.count {
            guard line[i] == 0x5c, i + 1 < line.count else {
                out.append(line[i])
                i += 1
                continue
            }
            let next = line[i + 1]
            if next == 0x2f || next == 0x22 || next == 0x5c {
                out.append(next)
                i += 2
                changed = true
            } else if next == 0x75, i + 5 < line.count,
                      let a = hexValue(line[i + 2]), let b = hexValue(line[i + 3]), let c = hexValue(line[i + 4]), let d = hexValue(line[i + 5]) {
                let scalar = UInt32(a) << 12 | UInt32(b) << 8 | UInt32(c) << 4 | UInt32(d)
                if let unicode = Unicode.Scalar(scalar) {
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                    changed = true
                }
                i += 6
            } else {
                out.append(line[i])
                out.append(next)
                i += 2
            }
        }
        return changed ? out : nil
    }
}

/// The assignments a SQL statement makes, as `name = value` lines. Reads one statement from the line
/// a locator hit: the column list and the value tuples of an `INSERT` (each value beside its
/// column), or an `UPDATE`'s `SET` list (and, for a key-value table, `WHERE name = 'NAME'` gives its
/// first value that name). Bounded: a statement stops at `;`, at `DecodeBudget.maxSpanBytes`, or at
/// the first byte that does not fit, and every byte is read once.
enum SQLStatement {
    /// Where the reader stopped (past `start`), and the assignments when the statement parsed.
    static func assignments(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> (end: Int, text: [UInt8]?) {
        var reader = Reader(bytes: bytes, at: start, limit: min(bytes.count, start + DecodeBudget.maxSpanBytes))
        let text = read(&reader)
        return (min(max(reader.furthest, reader.at, start + 1), bytes.count), text)
    }

    /// Whether the line at `start` begins (after spaces) with INSERT or UPDATE.
    static func startsStatement(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        var reader = Reader(bytes: bytes, at: start, limit: min(bytes.count, start + 256))
        reader.skipSpace()
        return reader.keyword("insert") || reader.keyword("update")
    }

    static func read(_ reader: inout Reader) -> [UInt8]? {
        reader.skipSpace()
        var out: [UInt8] = []
        if reader.keyword("insert") {
            reader.skipSpace()
            _ = reader.keyword("ignore")
            reader.skipSpace()
            guard reader.keyword("into") else { return nil }
            reader.skipSpace()
            _ = reader.identifier()
            reader.skipSpace()
            guard reader.take(0x28) else { return nil }  // (
            var columns: [[UInt8]] = []
            while true {
                reader.skipSpace()
                guard let column = reader.identifier() else { return nil }
                columns.append(column)
                reader.skipSpace()
                if reader.take(0x29) { break }  // )
                guard reader.take(0x2c), columns.count < 1024 else { return nil }
            }
            reader.skipSpace()
            guard reader.keyword("values") else { return nil }
            var tuples = 0
            repeat {
                reader.skipSpace()
                guard reader.take(0x28), let values = reader.valueList(), values.count == columns.count else { break }
                for (column, value) in zip(columns, values) { out += column + Array(" = ".utf8) + value + [0x0a] }
                tuples += 1
                reader.skipSpace()
            } while reader.take(0x2c) && tuples < 100_000
        } else if reader.keyword("update") {
            reader.skipSpace()
            _ = reader.identifier()
            reader.skipSpace()
            guard reader.keyword("set") else { return nil }
            var first: [UInt8]? = nil
            repeat {
                reader.skipSpace()
                guard let column = reader.identifier() else { break }
                reader.skipSpace()
                guard reader.take(0x3d) else { break }
                reader.skipSpace()
                guard let value = reader.value() else { break }
                out += column + Array(" = ".utf8) + value + [0x0a]
                if first == nil { first = value }
                reader.skipSpace()
            } while reader.take(0x2c)
            reader.skipSpace()
            if reader.keyword("where") {
                reader.skipSpace()
                if reader.identifier() != nil {
                    reader.skipSpace()
                    let assigned = reader.take(0x3d)
                    reader.skipSpace()
                    if assigned, let key = reader.value(), let first, key.count > 2, key.first == 0x27 || key.first == 0x22 {
                        out += key.dropFirst().dropLast() + Array(" = ".utf8) + first + [0x0a]
                    }
                }
            }
        } else {
            return nil
        }
        return out.isEmpty ? nil : out
    }

    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var at: Int { didSet { furthest = max(furthest, at) } }
        let limit: Int
        var furthest = 0

        init(bytes: UnsafeBufferPointer<UInt8>, at: Int, limit: Int) {
            self.bytes = bytes
            self.at = at
            self.limit = limit
            furthest = at
        }

        mutating func skipSpace() {
            while at < limit, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[at]) { at += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard at < limit, bytes[at] == byte else { return false }
            at += 1
            return true
        }

        /// A keyword, in any case, not followed by a name character.
        mutating func keyword(_ word: String) -> Bool {
            let word = Array(word.utf8)
            guard at + word.count <= limit else { return false }
            for (k, c) in word.enumerated() where bytes[at + k] | 0x20 != c { return false }
            if at + word.count < limit, isName(bytes[at + word.count]) { return false }
            at += word.count
            return true
        }

        func isName(_ byte: UInt8) -> Bool {
            (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5f || byte >= 0x80
        }

        /// A name, plain or quoted (`name`, "name", [name]), dotted; returned without its quotes.
        mutating func identifier() -> [UInt8]? {
            var name: [UInt8] = []
            repeat {
                guard at < limit else { break }
                let open = bytes[at]
                if open == 0x60 || open == 0x22 || open == 0x5b {
                    let close: UInt8 = open == 0x5b ? 0x5d : open
                    at += 1
                    let begin = at
                    while at < limit && bytes[at] != close && bytes[at] != 0x0a { at += 1 }
                    guard at < limit, bytes[at] == close else { return nil }
                    name += bytes[begin..<at]
                    at += 1
                } else {
                    let begin = at
                    while at < limit && isName(bytes[at]) { at += 1 }
                    guard at > begin else { break }
                    name += bytes[begin..<at]
                }
                if at < limit && bytes[at] == 0x2e { name.append(0x2e); at += 1 } else { break }
            } while name.count < 256
            return name.isEmpty || name.count > 256 ? nil : name
        }

        /// One value as written: a quoted string (with its quotes; `''` and `\'` inside), or a bare
        /// token (a number, NULL, a function call without nesting).
        mutating func value() -> [UInt8]? {
            guard at < limit else { return nil }
            let begin = at
            let quote = bytes[at]
            if quote == 0x27 || quote == 0x22 {
                at += 1
                while at < limit {
                    let byte = bytes[at]
                    // An escape takes the next byte too, but never past the statement's limit (a
                    // trailing `\` at the end of the input).
                    if byte == 0x5c { at = min(at + 2, limit); continue }
                    if byte == quote {
                        if at + 1 < limit && bytes[at + 1] == quote { at += 2; continue }
                        at += 1
                        return Array(bytes[begin..<min(at, limit)])
                    }
                    at += 1
                }
                return nil
            }
            while at < limit, ![0x2c, 0x29, 0x3b, 0x0a].contains(bytes[at]) { at += 1 }
            var end = at
            while end > begin, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
            return end > begin ? Array(bytes[begin..<end]) : nil
        }

        /// The values of one tuple, after its `(` and through its `)`.
        mutating func valueList() -> [[UInt8]]? {
            var values: [[UInt8]] = []
            while values.count < 1024 {
                skipSpace()
                guard let value = value() else { return nil }
                values.append(value)
                skipSpace()
                if take(0x29) { return values }
                guard take(0x2c) else { return nil }
            }
            return nil
        }
    }
}

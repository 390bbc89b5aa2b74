import Foundation

/// One Dockerfile instruction after joining continuation lines, with a map back to physical lines.
struct DockerInstruction {
    let keyword: String
    /// Everything after the keyword, continuation lines joined with a space.
    let arguments: String
    /// Heredoc bodies (`RUN <<EOF … EOF`), joined.
    let heredoc: String
    let line: Int
    /// (offset in `arguments`, physical line) for each joined segment, in increasing offset order.
    let segments: [(offset: Int, line: Int)]

    /// The physical line of a character offset in `arguments` (binary search over the segments).
    func line(at offset: Int) -> Int {
        var low = 0, high = segments.count
        while low < high {
            let mid = (low + high) / 2
            if segments[mid].offset <= offset { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? line : segments[low - 1].line
    }
}

enum DockerfileParser {
    static let keywords: Set<String> = ["ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
                                        "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"]

    /// How a warning names an instruction: its keyword when it is a Dockerfile one, never other text
    /// from the file (a malformed line may be a stray secret).
    static func named(_ keyword: String) -> String { keywords.contains(keyword) ? keyword : "the instruction" }

    /// Heredocs: <<EOF, <<-EOF, <<"EOF", <<'EOF'.
    static let heredocMarker = try? NSRegularExpression(pattern: #"<<-?["']?([A-Za-z_][A-Za-z0-9_]*)["']?"#)

    /// Joins continuation lines (skipping comment lines inside them, as Docker does), reads heredocs,
    /// and honours `# escape=` (backslash or backtick). Linear in the text: the joined length is kept
    /// as it grows. Warnings name the line and the instruction keyword, never the text.
    static func parse(_ text: String) -> (instructions: [DockerInstruction], warnings: [String]) {
        // Foundation's replace costs a pass through UTF-16 even when there is nothing to replace.
        let unix = text.utf8.contains(0x0d) ? text.replacingOccurrences(of: "\r\n", with: "\n") : text
        let lines = unix.split(separator: "\n", omittingEmptySubsequences: false)
        var escape: Character = "\\"
        var instructions: [DockerInstruction] = []
        var warnings: [String] = []
        var index = 0
        var directives = true
        while index < lines.count {
            let raw = lines[index]
            let trimmed = raw.trimmingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                if directives, trimmed.lowercased().replacingOccurrences(of: " ", with: "").hasPrefix("#escape=") {
                    escape = trimmed.last == "`" ? "`" : "\\"
                }
                index += 1
                continue
            }
            directives = false
            let startLine = index + 1
            var joined = ""
            // `joined.count`, kept as it grows: String.count walks the whole string.
            var joinedCount = 0
            var segments: [(Int, Int)] = []
            var current = trimmed
            var physical = index
            var unterminated = false
            while true {
                segments.append((joinedCount, physical + 1))
                let continues = current.last == escape
                let piece = continues ? current.dropLast() : current[...]
                joined += piece
                joinedCount += piece.count
                index += 1
                guard continues else { break }
                joined += " "
                joinedCount += 1
                // Skip blank and comment lines inside the continuation.
                while index < lines.count {
                    let next = lines[index].trimmingSpaces()
                    if next.isEmpty || next.hasPrefix("#") { index += 1 } else { break }
                }
                guard index < lines.count else {
                    unterminated = true
                    break
                }
                physical = index
                current = lines[index].trimmingSpaces()
            }
            let head = joined.prefix { !$0.isWhitespace }
            let keyword = String(head).uppercased()
            let rest = joined[head.endIndex...]
            let arguments = rest.trimmingSpaces()
            let shift = head.count + rest.prefix { $0.unicodeScalars.allSatisfy(CharacterSet.whitespaces.contains) }.count
            let isInstruction = !keyword.isEmpty && keyword.allSatisfy { $0.isLetter }
            if unterminated {
                warnings.append("line \(startLine): \(named(keyword)) ends with a line continuation at the end of the file")
            }
            var heredoc = ""
            if let regex = heredocMarker {
                for match in regex.matches(in: arguments, range: NSRange(arguments.startIndex..., in: arguments)) {
                    guard let range = Range(match.range(at: 1), in: arguments) else { continue }
                    let marker = arguments[range]
                    var closed = false
                    while index < lines.count {
                        let body = lines[index]
                        index += 1
                        if body.trimmingSpaces() == marker { closed = true; break }
                        heredoc += body
                        heredoc += "\n"
                    }
                    if !closed { warnings.append("line \(startLine): \(named(keyword)): a heredoc is never closed") }
                }
            }
            if !isInstruction {
                warnings.append("line \(startLine): not a Dockerfile instruction (the line is not quoted)")
                continue
            }
            instructions.append(DockerInstruction(keyword: keyword, arguments: arguments, heredoc: heredoc, line: startLine,
                                                  segments: segments.map { (max(0, $0.0 - shift), $0.1) }))
        }
        return (instructions, warnings)
    }

    /// Splits `a=b c="d e" f` into words with their offsets, honouring quotes and escapes.
    static func words(_ text: String) -> [(word: String, offset: Int)] {
        var out: [(String, Int)] = []
        var current = ""
        var start = 0
        var quote: Character? = nil
        var escaped = false
        var inWord = false
        for (offset, character) in text.enumerated() {
            if escaped { current.append(character); escaped = false; continue }
            if character == "\\" && quote != "'" { escaped = true; continue }
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
                continue
            }
            if character == "\"" || character == "'" {
                if !inWord { start = offset; inWord = true }
                quote = character
                continue
            }
            if character.isWhitespace {
                if inWord { out.append((current, start)); current = ""; inWord = false }
                continue
            }
            if !inWord { start = offset; inWord = true }
            current.append(character)
        }
        if inWord { out.append((current, start)) }
        return out
    }
}

enum DockerfileAudit {
    static func isDockerfile(_ path: String) -> Bool {
        let name = PathText.lastComponent(path)
        let lower = name.lowercased()
        return lower == "dockerfile" || lower.hasPrefix("dockerfile.") || lower.hasSuffix(".dockerfile") || lower == "containerfile"
            || lower.hasPrefix("containerfile.")
    }

    static let secretFiles: [String] = [".env", ".npmrc", ".pypirc", ".aws", ".ssh", ".git-credentials", ".netrc", ".pgpass",
                                        "id_rsa", "id_ed25519", "id_ecdsa", "id_dsa", "credentials.json"]
    static let secretSuffixes = [".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"]

    static func isSecretSource(_ source: String) -> Bool {
        let name = (source.hasSuffix("/") ? String(source.dropLast()) : source)
        let last = PathText.lastComponent(name).lowercased()
        if secretFiles.contains(last) || last.hasPrefix(".env.") && !TrackedFileAudit.envTemplates.contains(last) { return true }
        return secretSuffixes.contains(where: { last.hasSuffix($0) })
    }

    /// `dockerignore`: the patterns of the context's .dockerignore, nil when there is none.
    static func check(path: String, text: String, dockerignore: [String]?) -> (findings: [AuditFinding], warnings: [String]) {
        let (instructions, parseWarnings) = DockerfileParser.parse(text)
        var out: [AuditFinding] = []
        // Stages: the final one, and the stages it is built FROM, end up in the image.
        var stages: [(name: String?, base: String, range: Range<Int>)] = []
        for (i, instruction) in instructions.enumerated() where instruction.keyword == "FROM" {
            let words = DockerfileParser.words(instruction.arguments).map(\.word).filter { !$0.hasPrefix("--") }
            let name = words.count >= 3 && words[1].lowercased() == "as" ? words[2].lowercased() : nil
            if let last = stages.indices.last { stages[last].range = stages[last].range.lowerBound..<i }
            stages.append((name, words.first?.lowercased() ?? "", i..<instructions.count))
        }
        if stages.isEmpty { stages = [(nil, "", 0..<instructions.count)] }
        var shipped = Set([stages.count - 1])
        var cursor = stages.count - 1
        var stageByName: [String: Int] = [:]
        for (i, stage) in stages.enumerated() { if let name = stage.name, stageByName[name] == nil { stageByName[name] = i } }
        while let base = stageByName[stages[cursor].base], !shipped.contains(base) {
            shipped.insert(base)
            cursor = base
        }
        var secretArgs: [String: Int] = [:]
        // What `COPY .` lets through, worked out once.
        var knownGaps: [String]?? = nil
        func gaps() -> [String]? {
            if let known = knownGaps { return known }
            let found = contextGaps(dockerignore)
            knownGaps = .some(found)
            return found
        }
        for (stageIndex, stage) in stages.enumerated() {
            for instruction in instructions[stage.range] {
                switch instruction.keyword {
                case "ENV":
                    for (name, value, offset) in assignments(instruction) where SecretNames.looksSecret(name) && SecretNames.isLiteral(value) {
                        out.append(AuditRules.finding("audit-dockerfile-secret-env", path: path, line: instruction.line(at: offset),
                                                      detail: "ENV \(name)=\(SecretNames.redacted(value))"))
                    }
                case "ARG":
                    for (word, offset) in DockerfileParser.words(instruction.arguments) {
                        let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                        guard let name = parts.first, SecretNames.looksSecret(name) else { continue }
                        secretArgs[name] = instruction.line(at: offset)
                        if parts.count == 2, SecretNames.isLiteral(parts[1]) {
                            out.append(AuditRules.finding("audit-dockerfile-secret-arg", path: path, line: instruction.line(at: offset),
                                                          detail: "ARG \(name)=\(SecretNames.redacted(parts[1]))"))
                        }
                    }
                case "RUN":
                    let usesSecretMount = instruction.arguments.contains("--mount=type=secret")
                    let body = instruction.arguments + "\n" + instruction.heredoc
                    for name in variableReferences(body).sorted() where secretArgs[name] != nil {
                        out.append(AuditRules.finding("audit-dockerfile-arg-in-run", path: path, line: instruction.line,
                                                      detail: "RUN reads build argument \(name)"))
                    }
                    if !usesSecretMount, let what = writesCredentials(body) {
                        out.append(AuditRules.finding("audit-dockerfile-run-writes-secret", path: path, line: instruction.line, detail: what))
                    }
                case "COPY", "ADD":
                    let words = DockerfileParser.words(instruction.arguments)
                    if words.contains(where: { $0.word.hasPrefix("--from=") }) { continue }
                    let operands = words.filter { !$0.word.hasPrefix("--") }
                    guard operands.count >= 2 else { continue }
                    for source in operands.dropLast() {
                        if isSecretSource(source.word) {
                            out.append(AuditRules.finding("audit-dockerfile-copy-secret-file", path: path,
                                                          line: instruction.line(at: source.offset), detail: "\(instruction.keyword) \(source.word)"))
                        } else if [".", "./", "*", "./*"].contains(source.word), shipped.contains(stageIndex),
                                  let gaps = gaps(), !gaps.isEmpty {
                            let reason = dockerignore == nil ? "no .dockerignore" : ".dockerignore does not exclude \(gaps.joined(separator: ", "))"
                            out.append(AuditRules.finding("audit-dockerfile-copy-context", path: path,
                                                          line: instruction.line(at: source.offset), detail: "\(instruction.keyword) \(source.word): \(reason)"))
                        }
                    }
                default: break
                }
            }
        }
        return (out, parseWarnings.map { "\(path): \($0)" })
    }

    /// `ENV a=b c="d e"` or the legacy `ENV a b c` (one variable, the rest its value).
    static func assignments(_ instruction: DockerInstruction) -> [(String, String, Int)] {
        let words = DockerfileParser.words(instruction.arguments)
        guard let first = words.first else { return [] }
        if !first.word.contains("=") {
            let value = words.dropFirst().map(\.word).joined(separator: " ")
            return [(first.word, value, first.offset)]
        }
        return words.compactMap { word, offset in
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            return parts.count == 2 ? (parts[0], parts[1], offset) : nil
        }
    }

    /// The shell variables `body` reads (`$NAME`, `${NAME}`, `${NAME:-…}`), in one pass.
    static func variableReferences(_ body: String) -> Set<String> {
        var names = Set<String>()
        let bytes = Array(body.utf8)
        func isName(_ byte: UInt8) -> Bool {
            (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5f
        }
        var i = 0
        while i < bytes.count {
            guard bytes[i] == 0x24 else { i += 1; continue }
            var start = i + 1
            if start < bytes.count && bytes[start] == 0x7b { start += 1 }
            var end = start
            while end < bytes.count && isName(bytes[end]) { end += 1 }
            if end > start { names.insert(String(decoding: bytes[start..<end], as: UTF8.self)) }
            i = max(end, i + 1)
        }
        return names
    }

    /// Redirections into a credentials file. `[^\s>]*` rather than `\S*`: the same matches (from the
    /// last `>`), without rescanning a long word from every `>` before it.
    /// Each with a literal the text must hold for the regex to match: the regex (ICU, through UTF-16)
    /// runs only when it is there.
    static let credentialWrites: [(NSRegularExpression?, String, literal: [UInt8])] = [
        (#">>?\s*[^\s>]*\.npmrc"#, "writes .npmrc", ".npmrc"), (#">>?\s*[^\s>]*\.pypirc"#, "writes .pypirc", ".pypirc"),
        (#">>?\s*[^\s>]*\.netrc"#, "writes .netrc", ".netrc"),
        (#">>?\s*[^\s>]*\.git-credentials"#, "writes .git-credentials", ".git-credentials"),
        (#">>?\s*[^\s>]*\.docker/config\.json"#, "writes .docker/config.json", ".docker/config.json"),
        (#"npm\s+config\s+set\s+\S*_auth"#, "npm config set with a token", "_auth"),
    ].map { (try? NSRegularExpression(pattern: $0.0), $0.1, Array($0.2.utf8)) }
    static let gitConfig = try? NSRegularExpression(pattern: #"git\s+config\s+"#)
    static let storeHelper = try? NSRegularExpression(pattern: #"credential\.helper\s+store"#)
    static let awsCredentials = try? NSRegularExpression(pattern: #">>?\s*[^\s>]*\.aws/credentials"#)

    /// Commands that leave credentials in a layer.
    static func writesCredentials(_ body: String) -> String? {
        func found(_ regex: NSRegularExpression?, in text: String, from: String.Index? = nil) -> Range<String.Index>? {
            guard let regex else { return nil }
            let range = NSRange((from ?? text.startIndex)..., in: text)
            return regex.firstMatch(in: text, range: range).flatMap { Range($0.range, in: text) }
        }
        let bytes = Array(body.utf8)
        func holds(_ literal: [UInt8]) -> Bool { Self.occurs(literal, in: bytes) }
        for (regex, what, literal) in credentialWrites where holds(literal) && found(regex, in: body) != nil { return what }
        // `git config … credential.helper store` on one line: after the first `git config` of each
        // line (a later one could only find less), so no line is searched once per `git config`.
        let helper = Array("credential.helper".utf8)
        for line in holds(helper) ? body.split(separator: "\n") : [] where Self.occurs(helper, in: Array(line.utf8)) {
            let text = String(line)
            if let config = found(gitConfig, in: text), found(storeHelper, in: text, from: config.upperBound) != nil {
                return "enables the plain-text credential store"
            }
        }
        if holds(Array(".aws/credentials".utf8)) && found(awsCredentials, in: body) != nil { return "writes .aws/credentials" }
        return nil
    }

    /// Whether `needle` occurs in `bytes` (memchr, then memcmp: the generic `firstRange(of:)` here
    /// resolved to Foundation's, which allocated at every position).
    static func occurs(_ needle: [UInt8], in bytes: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        guard bytes.count >= needle.count else { return false }
        return bytes.withUnsafeBufferPointer { b in
            needle.withUnsafeBufferPointer { n in
                // Safe: both buffers are non-empty (checked above).
                let base = b.baseAddress!, last = b.count - n.count
                var at = 0
                while at <= last {
                    guard let hit = memchr(base + at, Int32(first), last - at + 1) else { return false }
                    at = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
                    if memcmp(base + at, n.baseAddress!, n.count) == 0 { return true }
                    at += 1
                }
                return false
            }
        }
    }

    /// What a `COPY .` would let through; empty when .dockerignore covers it all. Nil: cannot tell.
    static func contextGaps(_ patterns: [String]?) -> [String]? {
        guard let patterns else { return [".env*", ".git", "*.pem", "id_*"] }
        let globs = patterns.map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix("!") }
            .map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 }
            .map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            .compactMap(Glob.init)
        let probes = [(".env*", [".env", ".env.production"]), (".git", [".git"]), ("*.pem", ["server.pem"]), ("id_*", ["id_rsa"])]
        return probes.filter { _, names in names.contains { name in !globs.contains { $0.matches(name) } } }.map(\.0)
    }
}

extension StringProtocol {
    /// `trimmingCharacters(in: .whitespaces)` (spaces, tabs, other space separators) without
    /// Foundation's UTF-16 round trip, which was most of the cost of parsing a long Dockerfile.
    func trimmingSpaces() -> String {
        func isSpace(_ character: Character) -> Bool {
            if character == " " || character == "\t" { return true }
            guard character.unicodeScalars.count == 1, let scalar = character.unicodeScalars.first, !scalar.isASCII else { return false }
            return scalar.properties.generalCategory == .spaceSeparator
        }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}

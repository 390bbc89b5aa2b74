import Foundation

/// One Dockerfile instruction after joining continuation lines, with a map back to physical lines.
struct DockerInstruction {
    let keyword: String
    /// Everything after the keyword, continuation lines joined with a space.
    let arguments: String
    /// Heredoc bodies (`RUN <<EOF … EOF`), joined.
    let heredoc: String
    let line: Int
    /// (offset in `arguments`, physical line) for each joined segment, in order.
    let segments: [(offset: Int, line: Int)]

    func line(at offset: Int) -> Int {
        var result = line
        for segment in segments where segment.offset <= offset { result = segment.line }
        return result
    }
}

enum DockerfileParser {
    /// Joins continuation lines (skipping comment lines inside them, as Docker does), reads heredocs,
    /// and honours `# escape=` (backslash or backtick).
    static func parse(_ text: String) -> (instructions: [DockerInstruction], warnings: [String]) {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var escape: Character = "\\"
        var instructions: [DockerInstruction] = []
        var warnings: [String] = []
        var index = 0
        var directives = true
        while index < lines.count {
            let raw = lines[index]
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
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
            var segments: [(Int, Int)] = []
            var current = trimmed
            var physical = index
            while true {
                segments.append((joined.count, physical + 1))
                let continues = current.hasSuffix(String(escape))
                joined += continues ? String(current.dropLast()) : current
                index += 1
                guard continues else { break }
                joined += " "
                // Skip blank and comment lines inside the continuation.
                while index < lines.count {
                    let next = lines[index].trimmingCharacters(in: .whitespaces)
                    if next.isEmpty || next.hasPrefix("#") { index += 1 } else { break }
                }
                guard index < lines.count else {
                    warnings.append("line \(startLine): the last instruction ends with a line continuation")
                    break
                }
                physical = index
                current = lines[index].trimmingCharacters(in: .whitespaces)
            }
            let keyword = String(joined.prefix { !$0.isWhitespace }).uppercased()
            let arguments = String(joined.dropFirst(keyword.count)).trimmingCharacters(in: .whitespaces)
            let shift = joined.count - arguments.count
            // Heredocs: <<EOF, <<-EOF, <<"EOF", <<'EOF'.
            var heredoc = ""
            if let regex = try? NSRegularExpression(pattern: #"<<-?["']?([A-Za-z_][A-Za-z0-9_]*)["']?"#) {
                for match in regex.matches(in: arguments, range: NSRange(arguments.startIndex..., in: arguments)) {
                    guard let range = Range(match.range(at: 1), in: arguments) else { continue }
                    let marker = String(arguments[range])
                    var closed = false
                    while index < lines.count {
                        let body = lines[index]
                        index += 1
                        if body.trimmingCharacters(in: .whitespaces) == marker { closed = true; break }
                        heredoc += body + "\n"
                    }
                    if !closed { warnings.append("line \(startLine): heredoc \(marker) is never closed") }
                }
            }
            if keyword.isEmpty || !keyword.allSatisfy({ $0.isLetter }) {
                warnings.append("line \(startLine): not an instruction: \(joined.prefix(40))")
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
        let name = (path as NSString).lastPathComponent
        let lower = name.lowercased()
        return lower == "dockerfile" || lower.hasPrefix("dockerfile.") || lower.hasSuffix(".dockerfile") || lower == "containerfile"
            || lower.hasPrefix("containerfile.")
    }

    static let secretFiles: [String] = [".env", ".npmrc", ".pypirc", ".aws", ".ssh", ".git-credentials", ".netrc", ".pgpass",
                                        "id_rsa", "id_ed25519", "id_ecdsa", "id_dsa", "credentials.json"]
    static let secretSuffixes = [".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"]

    static func isSecretSource(_ source: String) -> Bool {
        let name = (source.hasSuffix("/") ? String(source.dropLast()) : source)
        let last = (name as NSString).lastPathComponent.lowercased()
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
        while let base = stages.firstIndex(where: { $0.name != nil && $0.name == stages[cursor].base }), !shipped.contains(base) {
            shipped.insert(base)
            cursor = base
        }
        var secretArgs: [String: Int] = [:]
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
                    for (name, _) in secretArgs where body.contains("$\(name)") || body.contains("${\(name)}") {
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
                                  let gaps = contextGaps(dockerignore), !gaps.isEmpty {
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

    /// Commands that leave credentials in a layer.
    static func writesCredentials(_ body: String) -> String? {
        let patterns: [(String, String)] = [
            (#">>?\s*\S*\.npmrc"#, "writes .npmrc"), (#">>?\s*\S*\.pypirc"#, "writes .pypirc"),
            (#">>?\s*\S*\.netrc"#, "writes .netrc"), (#">>?\s*\S*\.git-credentials"#, "writes .git-credentials"),
            (#">>?\s*\S*\.docker/config\.json"#, "writes .docker/config.json"),
            (#"npm\s+config\s+set\s+\S*_auth"#, "npm config set with a token"),
            (#"git\s+config\s+[^\n]*credential\.helper\s+store"#, "enables the plain-text credential store"),
            (#">>?\s*\S*\.aws/credentials"#, "writes .aws/credentials"),
        ]
        for (pattern, what) in patterns where body.range(of: pattern, options: .regularExpression) != nil { return what }
        return nil
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

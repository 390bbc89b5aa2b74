import Foundation

/// Text that came from a repository (author names, e-mails, paths, commit subjects, tag names, a
/// custom rule's description) made safe to print: C0 controls, DEL and C1 controls (U+0080–U+009F)
/// become visible escapes (`\x1b`, `\x7f`, `\u{9b}`), so a crafted commit cannot move the cursor,
/// clear the screen, set the window title or print a line of its own (a fake "No secrets found.").
///
/// Every text output routes repository-controlled strings through `escape`. JSON and SARIF are
/// written by encoders that escape C0; `JSONOutput` also escapes DEL and C1 (see `escapeJSON`).
public enum TerminalText {
    /// One field (a path, a name): every control is escaped, newlines and tabs included, so a
    /// field stays on its line.
    public static func escape(_ text: String) -> String { escape(text, keepingNewlines: false) }

    /// A message of several lines (an error, a warning): `\n` is kept, every other control escaped.
    public static func escape(_ text: String, keepingNewlines: Bool) -> String {
        // Fast path: nothing to escape, the string is returned as it is (no copy).
        guard text.unicodeScalars.contains(where: { needsEscape($0, keepingNewlines: keepingNewlines) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar, keepingNewlines: keepingNewlines) else {
                out.append(scalar)
                continue
            }
            let visible: String
            switch scalar.value {
            case 0x09: visible = "\\t"
            case 0x0A: visible = "\\n"
            case 0x0D: visible = "\\r"
            case 0x80...0x9F: visible = "\\u{" + hex(scalar.value) + "}"
            default: visible = "\\x" + hex(scalar.value)
            }
            out.append(contentsOf: visible.unicodeScalars)
        }
        return String(out)
    }

    static func needsEscape(_ scalar: Unicode.Scalar, keepingNewlines: Bool) -> Bool {
        switch scalar.value {
        case 0x0A: return !keepingNewlines
        case 0x00...0x1F, 0x7F...0x9F: return true
        default: return false
        }
    }

    /// JSON encoders escape C0 but write DEL and C1 controls raw, and a terminal may act on C1
    /// (U+009B is CSI). In encoded JSON these bytes can only stand inside strings (everything
    /// outside a string is printable ASCII), so they are replaced by the equivalent `\u00XX`
    /// escapes: the same JSON value, and nothing a terminal acts on.
    public static func escapeJSON(_ data: Data) -> Data {
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Data in
            func c1(at k: Int) -> Bool { bytes[k] == 0xC2 && k + 1 < bytes.count && (0x80...0x9F).contains(bytes[k + 1]) }
            guard (0..<bytes.count).contains(where: { bytes[$0] == 0x7F || c1(at: $0) }) else { return data }
            var out = Data(capacity: bytes.count + 16)
            var k = 0
            while k < bytes.count {
                if bytes[k] == 0x7F {
                    out.append(contentsOf: Array("\\u007f".utf8))
                    k += 1
                } else if c1(at: k) {
                    out.append(contentsOf: Array("\\u00\(hex(UInt32(bytes[k + 1])))".utf8))
                    k += 2
                } else {
                    out.append(bytes[k])
                    k += 1
                }
            }
            return out
        }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(value >> 4) & 0xF], digits[Int(value) & 0xF]])
    }
}

/// When text reports use colour (`--color`). `auto`, the default, follows https://no-color.org:
/// colour only on a terminal, and never when `NO_COLOR` is set to anything but the empty string.
/// `always` colours even a pipe and overrides `NO_COLOR`; `never` never colours.
public enum ColourChoice: String, CaseIterable, Sendable {
    case auto, always, never

    /// Whether to colour output going to a terminal (or not), in this environment.
    public func enabled(toTerminal isTerminal: Bool, environment: [String: String]) -> Bool {
        switch self {
        case .always: return true
        case .never: return false
        case .auto: return isTerminal && (environment["NO_COLOR"] ?? "").isEmpty
        }
    }

    /// Whether to colour what goes to standard output in this process.
    public func enabledForStandardOutput() -> Bool {
        enabled(toTerminal: isatty(STDOUT_FILENO) == 1, environment: ProcessInfo.processInfo.environment)
    }
}

import Foundation

/// Rule examples are written as templates so that no real-looking secret is ever a literal in this
/// repository: `⟪kind:N⟫` expands at run time to N pseudo-random characters of that kind, the same
/// ones on every run (seeded by the template text and position).
///
/// Kinds: `an` letters and digits, `lo` lower-case letters and digits, `up` upper-case letters and
/// digits, `hex` lower-case hex, `HEX` upper-case hex, `dig` digits, `b64` base64 body characters,
/// `url` URL-safe base64, `b64dig` the base64 of that many decimal digits, `b32` A-Z and 2-7, `al` letters, `bech` upper-case bech32, `b58` base58, `basic` the base64 of
/// `user:` and that many letters and digits; `=C` (`⟪=A:16⟫`) repeats the one ASCII character C.
public enum ExampleTemplate {
    static let alphabets: [String: [UInt8]] = [
        "an": Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8),
        "lo": Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8),
        "up": Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8),
        "hex": Array("0123456789abcdef".utf8),
        "HEX": Array("0123456789ABCDEF".utf8),
        "dig": Array("0123456789".utf8),
        "b64": Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8),
        "url": Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8),
        "b32": Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8),
        "al": Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8),
        "bech": Array("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".utf8),
        "b58": Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8),
    ]

    /// A template that cannot be expanded: an unknown kind, a count that is not a number, or a `⟪`
    /// without its `⟫`. Names the offending piece (templates are rule examples, not scanned content).
    public struct TemplateError: Error, CustomStringConvertible, Equatable, Sendable {
        public let description: String
    }

    static var kinds: [String] { (Array(alphabets.keys) + ["basic", "b64dig", "=C (a character repeated)"]).sorted() }

    /// Expands a template written in this repository (built-in rule examples, tests). A malformed
    /// one is a programming error and stops the process naming the problem; templates from users
    /// (custom rules in `.keyseal.toml`) go through `checked`, which throws instead.
    /// `salt` gives a different expansion of the same template (tests that need several secrets).
    public static func expand(_ template: String, salt: String = "") -> String {
        do {
            return try checked(template, salt: salt)
        } catch {
            preconditionFailure("example template \(template.debugDescription): \(error)")
        }
    }

    /// Expands `template`, or throws `TemplateError` for an unknown kind, a bad count or an unclosed `⟪`.
    public static func checked(_ template: String, salt: String = "") throws -> String {
        var seed: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (salt + template).utf8 { seed = (seed ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var output = ""
        var rest = Substring(template)
        while let open = rest.range(of: "⟪") {
            guard !rest[..<open.lowerBound].contains("⟫") else {
                throw TemplateError(description: "a ⟫ without its ⟪ in \(template.debugDescription)")
            }
            output += rest[..<open.lowerBound]
            guard let close = rest.range(of: "⟫", range: open.upperBound..<rest.endIndex) else {
                throw TemplateError(description: "a ⟪ without its ⟫ in \(template.debugDescription)")
            }
            let piece = rest[open.lowerBound..<close.upperBound]
            let spec = rest[open.upperBound..<close.lowerBound].split(separator: ":", omittingEmptySubsequences: false)
            guard spec.count == 2, let count = Int(spec[1]), count > 0, count <= 100_000 else {
                throw TemplateError(description: "\(piece) is not ⟪kind:count⟫ with a count from 1 to 100000")
            }
            let kind = String(spec[0])
            if kind == "basic" {
                // Base64 of `user:` and `count` letters and digits (HTTP Basic credentials).
                output += Data(("svc-deploy:" + (try checked("⟪an:\(count)⟫", salt: "\(seed)"))).utf8).base64EncodedString()
                seed = seed &+ 0x9e37_79b9_7f4a_7c15
            } else if kind == "b64dig" {
                // Unpadded base64 of `count` random decimal digits (a numeric id, as Discord encodes one).
                var digits: [UInt8] = []
                for _ in 0..<count {
                    seed = seed &+ 0x9e37_79b9_7f4a_7c15
                    digits.append(0x30 + UInt8(truncatingIfNeeded: (seed >> 33) % 10))
                }
                digits[0] = max(digits[0], 0x31)
                output += Data(digits).base64EncodedString().replacingOccurrences(of: "=", with: "")
            } else if kind.hasPrefix("="), kind.count == 2, let character = kind.last, character.isASCII, !character.isWhitespace {
                // `⟪=A:16⟫`: one character repeated (a low-entropy near miss such as an all-`A` key id),
                // so no token-shaped literal is ever written out.
                output += String(repeating: character, count: count)
            } else if let alphabet = alphabets[kind] {
                var bytes: [UInt8] = []
                for _ in 0..<count {
                    seed = seed &+ 0x9e37_79b9_7f4a_7c15  // SplitMix64
                    var z = seed
                    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
                    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
                    z ^= z >> 31
                    bytes.append(alphabet[Int(z % UInt64(alphabet.count))])
                }
                output += String(decoding: bytes, as: UTF8.self)
            } else {
                throw TemplateError(description: "unknown kind '\(kind)' in \(piece) (kinds: \(kinds.joined(separator: ", ")))")
            }
            rest = rest[close.upperBound...]
        }
        if rest.contains("⟫") {
            throw TemplateError(description: "a ⟫ without its ⟪ in \(template.debugDescription)")
        }
        return output + rest
    }
}

import Foundation

/// Rule examples are written as templates so that no real-looking secret is ever a literal in this
/// repository: `⟪kind:N⟫` expands at run time to N pseudo-random characters of that kind, the same
/// ones on every run (seeded by the template text and position).
///
/// Kinds: `an` letters and digits, `lo` lower-case letters and digits, `up` upper-case letters and
/// digits, `hex` lower-case hex, `HEX` upper-case hex, `dig` digits, `b64` base64 body characters,
/// `url` URL-safe base64, `b64dig` the base64 of that many decimal digits, `b32` A-Z and 2-7, `al` letters, `bech` upper-case bech32, `b58` base58, `basic` the base64 of
/// `user:` and that many letters and digits.
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

    /// `salt` gives a different expansion of the same template (tests that need several secrets).
    public static func expand(_ template: String, salt: String = "") -> String {
        var seed: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (salt + template).utf8 { seed = (seed ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var output = ""
        var rest = Substring(template)
        while let open = rest.range(of: "⟪") {
            output += rest[..<open.lowerBound]
            guard let close = rest.range(of: "⟫", range: open.upperBound..<rest.endIndex) else { break }
            let spec = rest[open.upperBound..<close.lowerBound].split(separator: ":")
            if spec.count == 2, spec[0] == "basic", let count = Int(spec[1]) {
                // Base64 of `user:` and `count` letters and digits (HTTP Basic credentials).
                output += Data(("svc-deploy:" + expand("⟪an:\(count)⟫", salt: "\(seed)")).utf8).base64EncodedString()
                seed = seed &+ 0x9e37_79b9_7f4a_7c15
            } else if spec.count == 2, spec[0] == "b64dig", let count = Int(spec[1]) {
                // Unpadded base64 of `count` random decimal digits (a numeric id, as Discord encodes one).
                var digits: [UInt8] = []
                for _ in 0..<count {
                    seed = seed &+ 0x9e37_79b9_7f4a_7c15
                    digits.append(0x30 + UInt8(truncatingIfNeeded: (seed >> 33) % 10))
                }
                digits[0] = max(digits[0], 0x31)
                output += Data(digits).base64EncodedString().replacingOccurrences(of: "=", with: "")
            } else if spec.count == 2, let alphabet = alphabets[String(spec[0])], let count = Int(spec[1]) {
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
            }
            rest = rest[close.upperBound...]
        }
        return output + rest
    }
}

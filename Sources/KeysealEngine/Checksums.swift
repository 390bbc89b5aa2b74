/// Offline checks that some providers build into their tokens. A token that passes is almost surely
/// real; one that fails is still reported, with lower confidence (it may be a test value or a typo).
public enum TokenChecksum: String, Sendable, Hashable {
    /// `prefix_` + 30 base62 characters + 6 base62 characters of their CRC32 (GitHub's 2021
    /// token format; npm's access tokens use the same scheme).
    case base62CRC32

    static let base62 = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// True or false when the secret has this checksum's shape; nil when it has not (no verdict).
    public func verify(_ secret: [UInt8]) -> Bool? {
        switch self {
        case .base62CRC32:
            guard let underscore = secret.firstIndex(of: 0x5f) else { return nil }
            let body = secret[(underscore + 1)...]
            guard body.count == 36 else { return nil }
            let entropy = Array(body.prefix(30)), check = Array(body.suffix(6))
            return Self.encodeBase62(Self.crc32(entropy), width: 6) == check
        }
    }

    static func encodeBase62(_ value: UInt32, width: Int) -> [UInt8] {
        var digits: [UInt8] = []
        var rest = UInt64(value)
        repeat {
            digits.append(base62[Int(rest % 62)])
            rest /= 62
        } while rest > 0
        while digits.count < width { digits.append(base62[0]) }
        return digits.reversed()
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 (IEEE 802.3), as zlib computes it.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// Appends a valid checksum to `prefix` + 30 characters (for tests and examples).
    public static func withValidChecksum(_ tokenWithoutChecksum: String) -> String {
        let body = Array(tokenWithoutChecksum.utf8.suffix(30))
        return tokenWithoutChecksum + String(decoding: encodeBase62(crc32(body), width: 6), as: UTF8.self)
    }
}

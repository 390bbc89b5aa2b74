import Crypto
import Foundation

/// Offline checks that some providers build into their tokens. A token that passes is almost surely
/// real; one that fails is still reported, with lower confidence (it may be a test value or a typo).
public enum TokenChecksum: String, Sendable, Hashable, CaseIterable {
    /// `prefix_` + 30 base62 characters + 6 base62 characters of their CRC32 (GitHub's 2021
    /// token format; npm's access tokens use the same scheme).
    case base62CRC32
    /// `prefix_…_` + 6 base62 characters of the CRC32 of everything before the last `_` (Matrix
    /// Synapse access and refresh tokens).
    case trailingBase62CRC32
    /// `glsa_` + 32 characters + `_` + 8 hex digits: the CRC32 of what precedes the last `_`, its
    /// bytes little-endian (Grafana service-account tokens).
    case grafanaCRC32
    /// `pypi-` + base64url of a version-2 macaroon: the token must parse whole, ending in a 32-byte
    /// signature. A structural check (the signature itself needs PyPI's key).
    case pypiMacaroon
    /// Base58 with a 4-byte double-SHA-256 suffix (Bitcoin WIF and BIP32 extended keys).
    case base58Check
    /// Base64 of `user:password` (HTTP Basic credentials, Docker `auths` entries): it must decode to
    /// printable text with a colon and a non-empty password.
    case basicCredentials

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
        case .trailingBase62CRC32:
            guard let underscore = secret.lastIndex(of: 0x5f), secret.count - underscore == 7 else { return nil }
            return Self.encodeBase62(Self.crc32(Array(secret[..<underscore])), width: 6) == Array(secret[(underscore + 1)...])
        case .grafanaCRC32:
            guard let underscore = secret.lastIndex(of: 0x5f), secret.count - underscore == 9 else { return nil }
            let crc = Self.crc32(Array(secret[..<underscore]))
            let littleEndian = (0..<4).map { String(format: "%02x", (crc >> (8 * UInt32($0))) & 0xff) }.joined()
            return Array(littleEndian.utf8) == Array(secret[(underscore + 1)...]).map { $0 | 0x20 }
        case .pypiMacaroon:
            guard let dash = secret.firstIndex(of: 0x2d) else { return nil }
            guard let raw = Base64Bytes.decode(secret[(dash + 1)...]) else { return false }
            return Self.isMacaroonV2(raw)
        case .basicCredentials:
            guard let raw = Base64Bytes.decode(secret), let colon = raw.firstIndex(of: 0x3a), colon > 0,
                  colon < raw.count - 1 else { return false }
            return raw.allSatisfy { $0 >= 0x20 && $0 < 0x7f }
        case .base58Check:
            guard let raw = Self.decodeBase58(secret), raw.count > 4 else { return false }
            let payload = raw.dropLast(4)
            let digest = Array(SHA256.hash(data: Array(SHA256.hash(data: Array(payload)))))
            return Array(digest.prefix(4)) == Array(raw.suffix(4))
        }
    }

    /// Version-2 binary macaroon: a header section, caveat sections, an empty section, then a 32-byte
    /// signature field, and nothing after it.
    static func isMacaroonV2(_ raw: [UInt8]) -> Bool {
        guard raw.first == 2 else { return false }
        var at = 1
        func varint() -> Int? {
            var value = 0, shift = 0
            while at < raw.count, shift < 28 {
                let byte = raw[at]
                at += 1
                value |= Int(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        var sections = 0
        while true {
            var fields = 0
            while true {
                guard let type = varint() else { return false }
                if type == 0 { break }
                guard [1, 2, 4].contains(type), let length = varint(), at + length <= raw.count else { return false }
                at += length
                fields += 1
            }
            if fields == 0 { break }
            sections += 1
        }
        guard sections >= 1, varint() == 6, varint() == 32 else { return false }
        return at + 32 == raw.count
    }

    static let base58Alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    static let base58Values: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (value, byte) in base58Alphabet.enumerated() { table[Int(byte)] = Int8(value) }
        return table
    }()

    static func decodeBase58(_ text: [UInt8]) -> [UInt8]? {
        var bytes: [UInt8] = []  // big-endian
        for character in text {
            let digit = base58Values[Int(character)]
            guard digit >= 0 else { return nil }
            var carry = Int(digit)
            for i in stride(from: bytes.count - 1, through: 0, by: -1) {
                carry += Int(bytes[i]) * 58
                bytes[i] = UInt8(carry & 0xff)
                carry >>= 8
            }
            while carry > 0 {
                bytes.insert(UInt8(carry & 0xff), at: 0)
                carry >>= 8
            }
        }
        let zeros = text.prefix { $0 == 0x31 }.count
        return [UInt8](repeating: 0, count: zeros) + bytes
    }

    /// Base58check encoding of `payload` (for tests and examples).
    public static func base58CheckEncode(_ payload: [UInt8]) -> String {
        let digest = Array(SHA256.hash(data: Array(SHA256.hash(data: payload))))
        var number = payload + digest.prefix(4)
        var digits: [UInt8] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for i in number.indices {
                let value = remainder * 256 + Int(number[i])
                number[i] = UInt8(value / 58)
                remainder = value % 58
            }
            digits.append(base58Alphabet[remainder])
        }
        let zeros = (payload + digest.prefix(4)).prefix { $0 == 0 }.count
        return String(repeating: "1", count: zeros) + String(decoding: digits.reversed(), as: UTF8.self)
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

/// Base64 decoding on bytes, standard or URL-safe alphabet, padding optional: for tokens that embed
/// structure (macaroons) and for encoded spans the scanner opens.
enum Base64Bytes {
    /// 0-63 for an alphabet character (both alphabets), 64 for `=`, 255 otherwise.
    static let values: [UInt8] = {
        var table = [UInt8](repeating: 255, count: 256)
        for (value, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8.enumerated() {
            table[Int(byte)] = UInt8(value)
        }
        table[Int(UInt8(ascii: "+"))] = 62
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "/"))] = 63
        table[Int(UInt8(ascii: "_"))] = 63
        table[Int(UInt8(ascii: "="))] = 64
        return table
    }()

    /// Nil when a byte is outside the alphabet or the length cannot be base64.
    static func decode<C: Collection>(_ text: C) -> [UInt8]? where C.Element == UInt8 {
        var output: [UInt8] = []
        output.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0, bits = 0, padding = 0
        for byte in text {
            let value = values[Int(byte)]
            if value == 255 { return nil }
            if value == 64 { padding += 1; continue }
            if padding > 0 { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // A lone trailing character (6 bits) is not a whole byte: not base64.
        if bits >= 6 || padding > 2 { return nil }
        return output
    }
}

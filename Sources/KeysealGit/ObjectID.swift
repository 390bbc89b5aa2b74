import CGit2

/// A SHA-1 object id held by value (20 bytes), cheap to hash and compare.
public struct ObjectID: Hashable, Comparable, Sendable, CustomStringConvertible {
    // Three words instead of a tuple of 20 bytes: hashing and equality stay a few instructions.
    @usableFromInline let a: UInt64
    @usableFromInline let b: UInt64
    @usableFromInline let c: UInt32

    init(_ oid: git_oid) {
        var copy = oid
        var a: UInt64 = 0, b: UInt64 = 0, c: UInt32 = 0
        withUnsafeBytes(of: &copy.id) { raw in
            a = raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
            b = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            c = raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self)
        }
        self.a = a; self.b = b; self.c = c
    }

    init(_ pointer: UnsafePointer<git_oid>) { self.init(pointer.pointee) }

    /// Parses 40 hex digits; nil for anything else.
    public init?(hex: String) {
        var oid = git_oid()
        guard hex.utf8.count == 40, git_oid_fromstr(&oid, hex) == 0 else { return nil }
        self.init(oid)
    }

    init(rawBytes pointer: UnsafeRawPointer) {
        a = pointer.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        b = pointer.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        c = pointer.loadUnaligned(fromByteOffset: 16, as: UInt32.self)
    }

    var gitOID: git_oid {
        var oid = git_oid()
        var words = (a, b, c)
        withUnsafeMutableBytes(of: &oid.id) { dst in
            withUnsafeBytes(of: &words) { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<20]))
            }
        }
        return oid
    }

    /// The 20 raw bytes, in the order git stores them.
    public var bytes: [UInt8] {
        var words = (a, b, c)
        return withUnsafeBytes(of: &words) { Array($0[0..<20]) }
    }

    public var hex: String {
        // Straight into the string's storage: a store records tens of thousands of ids per scan.
        var words = (a, b, c)
        return withUnsafeBytes(of: &words) { raw in
            String(unsafeUninitializedCapacity: 40) { out in
                for k in 0..<20 {
                    let byte = raw[k]
                    out[2 * k] = Self.digits[Int(byte >> 4)]
                    out[2 * k + 1] = Self.digits[Int(byte & 0x0f)]
                }
                return 40
            }
        }
    }

    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public var description: String { hex }

    /// The order of the bytes (and of the hex): each word, loaded from the bytes in the machine's
    /// order, is compared as the big-endian number those bytes spell.
    public static func < (lhs: ObjectID, rhs: ObjectID) -> Bool {
        (lhs.a.bigEndian, lhs.b.bigEndian, lhs.c.bigEndian) < (rhs.a.bigEndian, rhs.b.bigEndian, rhs.c.bigEndian)
    }
}

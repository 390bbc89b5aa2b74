import CFuzzDriver
import Foundation
@testable import KeysealImage

/// Container images from arbitrary bytes: the input is read as an image tarball (outer tar index,
/// manifest.json or index.json, configs, every layer streamed) and as one layer's stored bytes
/// (gzip, zstd or tar, told by magic). Must never trap, hang or over-allocate; errors are fine.
/// Tar checksums are made valid first along the chain of headers (the raw bytes are tried too).
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-fuzz-image-\(getpid())")

func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = Array(UnsafeBufferPointer(start: data, count: size))
    for fixed in [false, true] {
        if fixed { fixChecksums(&input) }
        try? Data(input).write(to: scratch)
        if let images = try? ImageLoader.load(scratch.path) {
            for image in images {
                for layer in image.layers { readLayer(layer) }
                for attachment in image.attachments { _ = try? attachment.bytes(limit: 1 << 20) }
            }
        }
        if let file = try? RandomAccessFile(path: scratch.path) {
            readLayer(ImageLayer(index: 0, digest: nil, diffID: nil, mediaType: nil,
                                 location: BlobLocation(file: file, offset: 0, size: file.size), instruction: nil))
        }
    }
    return 0
}

func readLayer(_ layer: ImageLayer) {
    _ = try? LayerReader.read(layer, maxFileSize: 1 << 20) { _, content in
        if case .bytes(let bytes) = content {
            precondition(bytes.count <= 1 << 20, "a file over the size limit was handed over")
            _ = bytes.reduce(0, &+)
        }
    }
}

func fixChecksums(_ input: inout [UInt8]) {
    var at = 0
    while at + 512 <= input.count {
        var sum = 0
        for i in 0..<512 { sum += (148..<156).contains(i) ? 0x20 : Int(input[at + i]) }
        let digits = Array(String(sum, radix: 8).utf8)
        let field = [UInt8](repeating: 0x30, count: max(0, 6 - digits.count)) + digits.suffix(6) + [0, 0x20]
        for i in 0..<8 { input[at + 148 + i] = field[i] }
        let size = input.withUnsafeBytes { try? TarHeaderDecoder.number(UnsafeRawBufferPointer(rebasing: $0[at..<(at + 512)]), 124, 12) }
        guard let size, size < input.count else { return }
        at += 512 + (size + 511) / 512 * 512
    }
}

/// SwiftPM aliases `main` to `FuzzImage_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzImage_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}

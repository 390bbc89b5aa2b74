import CFuzzDriver
import Foundation
@testable import KeysealEngine

/// The base64, percent and JSON-escape decoders and the Kubernetes Secret value finders, each on the
/// whole input.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    _ = EncodedSpans.decodeBase64Text(bytes, 0..<size)
    _ = EncodedSpans.percentDecode(bytes)
    _ = EncodedSpans.jsonUnescape(bytes)
    for range in EncodedSpans.kubernetesDataValues(bytes) + EncodedSpans.kubernetesJSONDataValues(bytes) {
        precondition(range.lowerBound >= 0 && range.upperBound <= size, "value range outside the input")
        _ = EncodedSpans.decodeBase64Text(bytes, range)
    }
    return 0
}

/// SwiftPM aliases `main` to `FuzzDecoders_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzDecoders_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}

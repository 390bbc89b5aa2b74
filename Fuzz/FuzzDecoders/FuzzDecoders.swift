import CFuzzDriver
import Foundation
@testable import KeysealEngine

/// The base64, percent and JSON-escape decoders, the Kubernetes Secret value finders and the SQL
/// statement reader, each on the whole input.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    _ = EncodedSpans.decodeBase64Text(bytes, 0..<size)
    _ = EncodedSpans.percentDecode(bytes)
    _ = EncodedSpans.jsonUnescape(bytes)
    for range in EncodedSpans.kubernetesDataValues(bytes) + EncodedSpans.kubernetesJSONDataValues(bytes) {
        precondition(range.lowerBound >= 0 && range.upperBound <= size, "value range outside the input")
        _ = EncodedSpans.decodeBase64Text(bytes, range)
    }
    // The SQL reader from every line start: it must stay inside the input and end past its start.
    var start = 0
    while start < size {
        let (end, _) = SQLStatement.assignments(bytes, from: start)
        precondition(end > start && end <= size, "statement end outside the input")
        start = (bytes[start..<size].firstIndex(of: 0x0a) ?? size) + 1
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

import CFuzzDriver
import Foundation
@testable import KeysealCore

/// The Kubernetes Secret manifest reader (documents, `data:`/`stringData:`, base64 values).
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = KubernetesAudit.check(path: "secret.yaml", text: text)
    return 0
}

/// SwiftPM aliases `main` to `FuzzKubernetes_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzKubernetes_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}

// keyseal-test-scan: `keyseal scan --format json` for tests that need a scan in a process of its own
// (killed part way, or held inside a store write while another scan waits). It sets the scan's
// package-access test seams, which the shipped keyseal executable never sets and no environment
// variable reaches. Built with the package; not a product, never installed.
//
//     keyseal-test-scan REPO [--chunk-size N] [--kill-after-chunks N] [--pause-in-write FOLDER] [--store FILE-OR-URL]
//
// --kill-after-chunks: SIGKILL itself once N chunks are recorded (no cleanup, as a crash or kill -9).
// --pause-in-write: marks `<pid>.waiting` before each BEGIN and `<pid>.writing` once it holds the
// write lock; the first process to record a chunk (claiming `FOLDER/paused`) marks `<pid>.holding`
// and waits there, lock held, until the test creates `FOLDER/release` (at most 120 s).
// Exit 0 clean, 1 findings, 2 error, as keyseal.
import Foundation
import KeysealCore
import KeysealStore

var arguments = Array(CommandLine.arguments.dropFirst())
func value(_ name: String, in arguments: inout [String]) -> String? {
    guard let at = arguments.firstIndex(of: name), at + 1 < arguments.count else { return nil }
    let found = arguments[at + 1]
    arguments.removeSubrange(at...at + 1)
    return found
}
let chunkSize = value("--chunk-size", in: &arguments).flatMap { Int($0) }
let killAfter = value("--kill-after-chunks", in: &arguments).flatMap { Int($0) }
let pauseFolder = value("--pause-in-write", in: &arguments)
let storeValue = value("--store", in: &arguments)

var options = ScanOptions(path: arguments.first ?? ".", threads: 2, store: storeValue.map { StoreChoice.parse($0) } ?? .inRepository,
                          audit: true)
if let chunkSize { options.chunkSize = chunkSize }
if let killAfter {
    options.afterChunk = { recorded in if recorded >= killAfter { kill(getpid(), SIGKILL) } }
}
if let folder = pauseFolder {
    let pid = ProcessInfo.processInfo.processIdentifier
    let mark: @Sendable (String) -> Void = { state in
        _ = FileManager.default.createFile(atPath: "\(folder)/\(pid).\(state)", contents: nil)
    }
    var hooks = WriteHooks()
    hooks.beforeBegin = { mark("waiting") }
    hooks.afterBegin = { mark("writing") }
    hooks.recordingBlobs = {
        // `open` with O_EXCL: exactly one process claims the pause.
        let claim = open("\(folder)/paused", O_CREAT | O_EXCL | O_WRONLY, 0o644)
        guard claim >= 0 else { return }
        close(claim)
        mark("holding")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: "\(folder)/release") && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
    options.storeHooks = hooks
}
do {
    let result = try HistoryScan.scan(options)
    FileHandle.standardOutput.write(try ReportWriter.render(result, format: .json))
    exit(result.fails ? 1 : 0)
} catch {
    FileHandle.standardError.write(Data("keyseal-test-scan: \(error)\n".utf8))
    exit(2)
}

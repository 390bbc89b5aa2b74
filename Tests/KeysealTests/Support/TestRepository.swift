import Foundation
import KeysealEngine
import XCTest

/// A real git repository in a temporary folder, driven with the git CLI as a user would.
final class TestRepository {
    let url: URL
    var path: String { url.path }
    private var clock = 1_700_000_000

    init(bare: Bool = false, initialise: Bool = true) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        if initialise {
            try git(bare ? ["init", "-q", "--bare", "-b", "main"] : ["init", "-q", "-b", "main"])
            try git(["config", "user.name", "Test Author"])
            try git(["config", "user.email", "author@example.test"])
            try git(["config", "core.autocrlf", "false"])
        }
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    @discardableResult
    func git(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> String {
        try Self.run("/usr/bin/env", ["git"] + arguments, in: directory ?? url, environment: environment)
    }

    /// Writes a file (creating folders) and stages it.
    func write(_ relative: String, _ contents: String) throws {
        try write(relative, Data(contents.utf8))
    }

    func write(_ relative: String, _ data: Data) throws {
        let file = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
        try git(["add", "--", relative])
    }

    /// Commits with a fixed, increasing date so the order of commits is known.
    @discardableResult
    func commit(_ message: String, author: String = "Test Author") throws -> String {
        clock += 60
        let date = "@\(clock) +0000"
        try git(["commit", "-q", "--allow-empty", "-m", message, "--author", "\(author) <\(author.lowercased().replacingOccurrences(of: " ", with: "."))@example.test>"],
                environment: ["GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date])
        return try git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], in directory: URL,
                    environment: [String: String] = [:], allowFailure: Bool = false) throws -> String {
        let result = try capture(executable, arguments, in: directory, environment: environment)
        if result.status != 0 && !allowFailure {
            throw TestFailure("\(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static func capture(_ executable: String, _ arguments: [String], in directory: URL,
                        environment: [String: String] = [:], stdin: Data? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["HOME"] = directory.path
        // One compiled-rules cache for the whole test run, instead of compiling in every temp HOME.
        env["XDG_CACHE_HOME"] = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-test-cache").path
        for (key, value) in environment { env[key] = value }
        process.environment = env
        // stderr goes to a file so a chatty child cannot block on a full pipe while we read stdout.
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL) }
        let err = try FileHandle(forWritingTo: errURL)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try err.close()
        let errData = (try? Data(contentsOf: errURL)) ?? Data()
        return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Test secrets, assembled at run time so no literal in this repository looks like a real credential.
enum FakeSecret {
    static func github(_ seed: String = "a") -> String { ExampleTemplate.expand("ghp_⟪an:36⟫", salt: seed) }
    static func awsKeyID(_ seed: String = "a") -> String { ExampleTemplate.expand("AKIA⟪b32:16⟫", salt: seed) }
    static func stripe(_ seed: String = "a") -> String { ExampleTemplate.expand("sk_live_⟪an:24⟫", salt: seed) }
    static func password(_ seed: String = "a") -> String { ExampleTemplate.expand("Q7⟪an:14⟫", salt: seed) }
}

/// The keyseal binary SwiftPM built next to the test bundle.
enum KeysealBinary {
    static var path: String { product("keyseal") }
    /// `keyseal-test-scan` (Tests/KeysealTestScan): a scan in a process of its own, with test seams set.
    static var testScanPath: String { product("keyseal-test-scan") }
    /// The package's folder (README, docs/), from this file's place in it.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    static func product(_ name: String) -> String {
        // The products folder holds both the test bundle and the executable; where the bundle URL
        // points differs between platforms, so look beside it and in it.
        let bundle = Bundle(for: TestRepository.self).bundleURL
        let candidates = [bundle.appendingPathComponent(name), bundle.deletingLastPathComponent().appendingPathComponent(name)]
        return (candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]).path
    }

    static func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:],
                    stdin: Data? = nil) throws -> TestRepository.Output {
        try TestRepository.capture(path, arguments, in: directory, environment: environment, stdin: stdin)
    }
}

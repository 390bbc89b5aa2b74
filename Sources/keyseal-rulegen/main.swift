import Foundation
import KeysealRuleFiles

// Regenerates Sources/KeysealEngine/BuiltInRules.generated.swift from the rule files. Run from the
// package root: `swift run keyseal-rulegen` (or `--check`: exit 1 when the checked-in file is stale).
let root = FileManager.default.currentDirectoryPath
let folder = root + "/Sources/KeysealEngine/Rules"
let output = root + "/Sources/KeysealEngine/BuiltInRules.generated.swift"
let check = CommandLine.arguments.dropFirst().contains("--check")

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("keyseal-rulegen: " + message + "\n").utf8))
    exit(2)
}

guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
    fail("no folder \(folder): run this from the package root")
}
var files: [RuleFile] = []
var problems: [String] = []
for name in names.sorted() where name.hasSuffix(".toml") {
    let path = "Sources/KeysealEngine/Rules/" + name
    guard let text = try? String(contentsOfFile: root + "/" + path, encoding: .utf8) else { fail("cannot read \(path)") }
    do {
        let file = try RuleFileParser.parse(text: text, path: path)
        problems += file.warnings
        files.append(file)
    } catch {
        problems.append("\(error)")
    }
}
guard problems.isEmpty else { fail("the rule files have problems:\n" + problems.joined(separator: "\n")) }
let source = SwiftSource.render(files)
if check {
    let current = try? String(contentsOfFile: output, encoding: .utf8)
    if current != source {
        FileHandle.standardError.write(Data("keyseal-rulegen: \(output) is stale; run `swift run keyseal-rulegen`\n".utf8))
        exit(1)
    }
} else {
    do {
        try source.write(toFile: output, atomically: true, encoding: .utf8)
    } catch {
        fail("cannot write \(output): \(error)")
    }
    print("wrote \(files.reduce(0) { $0 + $1.rules.count }) rules from \(files.count) files")
}

import ArgumentParser
import Foundation
import KeysealCore

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check the tracked tree and git config for the routes secrets take into history and images.",
        discussion: """
            What it looks for: tracked .env, key, keystore, credentials, kubeconfig, Docker config \
            and Terraform state files; Dockerfile ENV and ARG secrets, secret ARGs used by RUN, \
            COPY or ADD of secret files, COPY . without a protecting .dockerignore, and RUN steps \
            that write credentials; literal secrets in compose environments; Kubernetes Secret \
            manifests (their data is decoded and checked by the content rules); credentials in \
            .npmrc, .pypirc and pip.conf; untracked .env and key files that .gitignore misses; \
            remote URLs with credentials, and credential.helper store.

            `keyseal rules audit` lists the audit rules.

            Exit codes: 0 nothing found, 1 routes found, 2 error.
            """)

    @Argument(help: repositoryHelp, completion: .directory)
    var path: String = "."
    @Option(name: .shortAndLong, help: "Report format: text, json, sarif, gitlab, junit or csv.")
    var format: ReportOptions.Format = .text
    @Option(name: .shortAndLong, help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file"),
            completion: .file())
    var output: String?
    /// The old name of --output.
    @Option(name: [.customLong("report"), .customShort("r")], help: .hidden)
    var report: String?
    @Option(help: "Audit the tree of this revision instead of HEAD (no work-tree checks then).")
    var rev: String?
    @OptionGroup var configuration: ConfigOptions
    @OptionGroup var colour: ColourOptions

    mutating func validate() throws {
        output = try OldNames.output(output, or: report, oldName: "--report")
    }

    func run() throws {
        let result = try Auditor.audit(path: path, revision: rev, configFile: configuration.config)
        // A file is written without colour, whatever --color says.
        let colour = output == nil && format == .text && colour.toStandardOutput
        let data = try ReportWriter.render(audit: result, format: format.reportFormat, colour: colour)
        if let output {
            try OutputFile.write(data, to: output, as: .report)
        } else {
            FileHandle.standardOutput.write(data)
        }
        for warning in result.warnings where format != .text { FileHandle.standardError.write(Data("warning: \(TerminalText.escape(warning))\n".utf8)) }
        if !result.findings.isEmpty { throw ExitCode(1) }
    }
}

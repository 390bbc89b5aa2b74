import ArgumentParser
import Foundation
import KeysealCore

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check the tracked tree and git config for the routes secrets take into history and images.",
        discussion: """
            Tracked .env, key, keystore, credentials, kubeconfig, Docker config and Terraform state files;
            Dockerfile ENV/ARG secrets, secret ARGs used by RUN, COPY/ADD of secret files, COPY . without a
            protecting .dockerignore, RUN steps that write credentials; compose environment literals;
            Kubernetes Secret manifests (data decoded and checked by the content rules); .npmrc, .pypirc and
            pip.conf credentials; untracked .env and key files that .gitignore misses; remote URLs with
            credentials and credential.helper store.
            Exit codes: 0 nothing found, 1 routes found, 2 error.
            """)

    @Argument(help: "The repository (default: the current folder).")
    var path: String = "."
    @Option(name: .shortAndLong, help: "text, json, sarif, gitlab, junit or csv.")
    var format: ReportOptions.Format = .text
    @Option(name: .shortAndLong, help: "Write the report to this file.")
    var report: String?
    @Option(help: "Audit the tree of this revision instead of HEAD (no work-tree checks then).")
    var rev: String?
    @OptionGroup var configuration: ConfigOptions

    func run() throws {
        let result = try Auditor.audit(path: path, revision: rev, configFile: configuration.config)
        let colour = report == nil && format == .text && isatty(STDOUT_FILENO) == 1
        let data = try ReportWriter.render(audit: result, format: format.reportFormat, colour: colour)
        if let report {
            try OutputFile.write(data, to: report, as: .report)
        } else {
            FileHandle.standardOutput.write(data)
        }
        for warning in result.warnings where format != .text { FileHandle.standardError.write(Data("warning: \(TerminalText.escape(warning))\n".utf8)) }
        if !result.findings.isEmpty { throw ExitCode(1) }
    }
}

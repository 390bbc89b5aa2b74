import ArgumentParser
import Foundation
import KeysealCore

// What every command spells the same way: `--color`, `--output/-o` for the file it writes, a
// positional PATH for the repository. Names that commands used before stay accepted, hidden from
// help, so scripts and installed hooks keep working.

extension ColourChoice: ExpressibleByArgument {}

/// `--color auto|always|never`, on every command that can print colour.
struct ColourOptions: ParsableArguments {
    @Option(name: .customLong("color"),
            help: ArgumentHelp("When to colour the text report on standard output: auto (only on a terminal, and not when NO_COLOR is set), always (even with NO_COLOR), or never.",
                               valueName: "when"))
    var colour: ColourChoice = .auto

    var toStandardOutput: Bool { colour.enabledForStandardOutput() }
}

/// The hidden old names, and how a command settles them against the new ones.
enum OldNames {
    /// `--output` or its old name (`--report`, `--out`), whichever was given. Both given with
    /// different files is a usage error: keyseal would have to guess which one was meant.
    static func output(_ output: String?, or old: String?, oldName: String) throws -> String? {
        if let output, let old, output != old {
            throw ValidationError("--output and \(oldName) (its old name) name different files; give --output only.")
        }
        return output ?? old
    }

    /// The repository: the positional PATH, or else `--repo` (its old name). PATH defaults to the
    /// current folder, so a PATH of "." with `--repo` is taken as PATH not given.
    static func repository(_ path: String, or repo: String?) throws -> String {
        guard let repo else { return path }
        if path != ".", path != repo {
            throw ValidationError("PATH and --repo (its old name) name different repositories; give PATH only.")
        }
        return repo
    }
}

/// The help of the positional repository argument, the same on every command.
let repositoryHelp = ArgumentHelp("The repository, or a folder inside it.", valueName: "path")

/// The old `--repo` option: accepted, hidden from help.
let oldRepositoryHelp = ArgumentHelp("The old name of PATH.", visibility: .hidden)

struct CompletionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completions",
        abstract: "Print a shell completion script for bash, zsh or fish.",
        discussion: """
            The script completes commands, options and their values. Save it where your shell \
            looks for completions, and start a new shell:

            keyseal completions bash > ~/.local/share/bash-completion/completions/keyseal

            keyseal completions zsh > ~/.zfunc/_keyseal

            (for zsh, with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc)

            keyseal completions fish > ~/.config/fish/completions/keyseal.fish
            """)

    @Argument(help: "The shell: bash, zsh or fish.")
    var shell: Shell

    enum Shell: String, ExpressibleByArgument, CaseIterable {
        case bash, zsh, fish
        var completionShell: CompletionShell {
            switch self {
            case .bash: return .bash
            case .zsh: return .zsh
            case .fish: return .fish
            }
        }
    }

    func run() throws {
        var script = Keyseal.completionScript(for: shell.completionShell)
        if !script.hasSuffix("\n") { script += "\n" }
        FileHandle.standardOutput.write(Data(script.utf8))
    }
}

import Foundation
import KeysealGit

/// `keyseal config init`: a commented `.keyseal.toml` to start from. What it sets changes nothing
/// (empty lists), so adding it neither hides a finding nor makes the store rescan; the comments
/// say what each key does, and a custom rule is there commented out, ready to edit.
/// A test loads this text through `KeysealConfig.parse`, and the rule block uncommented too.
public enum StarterConfig {
    public static let text = #"""
        # keyseal configuration. `keyseal scan`, `staged`, `pre-push`, `audit` and `checklist` read it
        # from the repository's root (or from --config FILE). Check it with `keyseal config check`.
        # Every key is optional; the README's "Configuration" section describes them.

        # Skip blobs larger than this; they are counted and listed as not fully scanned.
        # A size with K, M or G, above 0 and below 4G (default 25M).
        # max_blob_size = "25M"

        # Built-in rules to turn off, by id (`keyseal rules PATTERN` lists them), e.g. ["jwt"].
        disabled_rules = []

        [allowlist]
        # Paths never reported: globs where * and ? stay within a folder and ** crosses folders;
        # a glob without / matches the file name at any depth. e.g. ["test/fixtures/**", "*.md"]
        paths = []
        # Secrets never reported: regular expressions on the secret's value.
        regexes = []
        # Secrets never reported: a value that contains one of these words (ignoring case).
        stopwords = []
        # Commits never reported: commit id prefixes.
        commits = []

        # A custom rule has every field a built-in rule file has (CONTRIBUTING.md). Uncomment and
        # edit; `keyseal config check` then runs its examples. In examples, ⟪lo:32⟫ stands for 32
        # random lower-case letters (see the README for the other kinds).
        # [[rules]]
        # id = "acme-token"
        # provider = "Acme"
        # description = "Acme API token"
        # regex = '\b(acme_[a-z0-9]{32})\b'
        # min_entropy = 3.0
        # examples = ["token = acme_⟪lo:32⟫"]
        # negative_examples = ["acme_short"]
        # [rules.rotation]
        # revoke = "Acme console > API tokens: revoke the token and create a new one"

        """#

    /// Writes the starter config to `output`, or else to `.keyseal.toml` at the root of the work
    /// tree that holds `repository`. An existing file is kept unless `force`. Returns the path written.
    public static func write(repository: String, to output: String?, force: Bool) throws -> String {
        let path: String
        if let output {
            path = output
        } else {
            let repo = try Repository.open(repository)
            guard let root = repo.workDirectory else {
                throw KeysealError.usage("\(repository) is a bare repository, with no work tree for \(KeysealConfig.fileName); give --output FILE")
            }
            path = (root as NSString).appendingPathComponent(KeysealConfig.fileName)
        }
        let data = Data(text.utf8)
        if force {
            try OutputFile.write(data, to: path, as: .file)
            return path
        }
        // O_EXCL: created here or not at all, so a file made since any earlier check is not overwritten.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST {
                throw KeysealError.file("\(path) already exists; it is left as it is (--force replaces it)")
            }
            throw OutputFile.WriteError(path: path, kind: .file, reason: String(cString: strerror(code)))
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            try handle.write(contentsOf: data)
            try handle.close()
        } catch {
            throw OutputFile.WriteError(path: path, kind: .file, reason: error.localizedDescription)
        }
        return path
    }
}

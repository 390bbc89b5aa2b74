import ArgumentParser
import Foundation
import KeysealCore
import KeysealImage

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Scan container images for secrets: every layer, the config, history and attestations.",
        discussion: """
            SOURCE is a `docker save` tarball (either layout), an OCI image layout folder, the same \
            as a tar, or a registry reference (registry.example.com/team/app:1.2, or NAME@sha256:DIGEST), \
            pulled over the registry API with the credentials of `docker login`.

            Every file of every layer is scanned, files a later layer deletes or overwrites \
            included (they are still in the image); so are the config's Env, Labels, Entrypoint, Cmd \
            and OnBuild, the history (BuildKit's `RUN |N NAME=value` exposes build arguments), \
            annotations, and in-toto attestations. Layers are read once each, streamed and \
            decompressed on the fly (gzip, zstd or none, told by their first bytes), on all cores, \
            and checked against their digests.

            Each finding names the image, platform, layer (index, diff_id) and the instruction that \
            made it, the path and line, and whether the file is visible in the final filesystem.

            The store (--store FILE, or by default the store of the repository the command runs in, \
            if any) records each layer read, so a layer already scanned under the same rules is not \
            read again, and where each secret stands in each image; triage decided there applies. \
            --verify checks a rebuilt image: it fails on every secret still in it that is not a false \
            positive or accepted, rotated ones included.

            Exit codes: 0 nothing found, 1 secrets found, 2 usage or runtime error (a missing or \
            altered blob, a malformed manifest, a layer that is not a tar).
            """)

    @Argument(help: ArgumentHelp("Image tarballs, OCI layout folders, or registry references.", valueName: "source"), completion: .file())
    var sources: [String]

    @OptionGroup var output: ReportOptions
    @OptionGroup var configuration: ConfigOptions

    @Option(help: ArgumentHelp("Which platforms of a multi-platform image: all, or OS/ARCH[/VARIANT] (e.g. linux/arm64).",
                               valueName: "platform"))
    var platform: String = "all"

    @Option(help: ArgumentHelp("Threads to read layers with (default: one per core).", valueName: "n"))
    var threads: Int?

    @OptionGroup var storage: StoreOptions

    @Flag(help: "Check a rebuilt image: exit 1 if it still holds any secret the store does not know as a false positive or accepted (rotated ones included).")
    var verify = false

    func validate() throws {
        if sources.isEmpty { throw ValidationError("give at least one image (a docker save tarball or an OCI layout).") }
        if let threads, !(1...256).contains(threads) {
            throw ValidationError("--threads must be between 1 and 256 (got \(threads)).")
        }
        if platform != "all" && !platform.contains("/") {
            throw ValidationError("--platform must be all or OS/ARCH, e.g. linux/amd64 (got '\(platform)').")
        }
    }

    func run() throws {
        var options = ImageScanOptions(inputs: sources)
        options.platform = PlatformFilter(platform)
        options.configFile = configuration.config
        options.showSecrets = output.showSecrets
        if let threads { options.threads = threads }
        options.store = storage.choice
        options.verify = verify
        let result = try ImageScan.run(options)
        try output.write(result)
        if result.fails { throw ExitCode(1) }
    }
}

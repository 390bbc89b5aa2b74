// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "keyseal",
    products: [
        .executable(name: "keyseal", targets: ["keyseal"]),
        .library(name: "KeysealCore", targets: ["KeysealCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // System libraries, found through pkg-config; install.sh installs the apt packages named here.
        .systemLibrary(
            name: "CGit2", pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]),
        .systemLibrary(
            name: "CVectorscan", pkgConfig: "libhs",
            providers: [.apt(["libvectorscan-dev"])]),
        .systemLibrary(
            name: "CPCRE2", pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        // Inflates gzip and zip members found inside repositories (libgit2 links it too).
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        // Inflates the deltas of a history scan's packs in one call (the whole stream in memory): about
        // twice zlib's speed there, where inflating was a sixth of a redis scan's CPU. zlib stays for
        // streams whose length is not known in advance.
        .systemLibrary(
            name: "CDeflate", pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        // git_libgit2_opts is variadic, which Swift cannot call: one C function per option we set.
        .target(name: "CGitOptions", dependencies: ["CGit2"]),
        // The PostgreSQL store through libpq, loaded at run time (as libcurl is): Debian's libpq links
        // GSSAPI and LDAP, which have no static archives, and the release binary needs only libc.
        // libpq-dev gives the header; only a PostgreSQL store needs libpq5 at run time.
        .target(name: "CPostgres", linkerSettings: [.linkedLibrary("dl")]),
        // Webhook POSTs through libcurl loaded at run time, so the release binary needs only libc.
        .target(name: "CWebhookHTTP", linkerSettings: [.linkedLibrary("dl")]),
        // Runs TOMLKit's parser in a child process first: toml++ aborts on some malformed input.
        .target(name: "CIsolation"),
        // Whether a cache file may be mapped rather than read (statfs, which Swift's Glibc module lacks).
        .target(name: "CLocalFiles"),

        // The only module that imports libgit2.
        .target(name: "KeysealGit", dependencies: ["CGit2", "CGitOptions", "CZlib", "CDeflate"]),
        // Bytes and rules; knows nothing about git. Its rules are data (Rules/*.toml), compiled in
        // through BuiltInRules.generated.swift, which keyseal-rulegen writes and a test keeps fresh.
        .target(
            name: "KeysealEngine",
            dependencies: ["CVectorscan", "CPCRE2", "CZlib", "CLocalFiles", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["Rules"]),
        // The rule-file schema (built-in Rules/*.toml and a .keyseal.toml's [[rules]]), and the Swift
        // it generates. Depends on no engine type, so the generator builds even when its output does not.
        // Container images: another source of blobs beside git, knowing neither git nor the rules.
        .target(name: "KeysealImage", dependencies: ["CZlib", "CZstd", "CWebhookHTTP", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "KeysealRuleFiles", dependencies: ["TOMLKit"]),
        .executableTarget(name: "keyseal-rulegen", dependencies: ["KeysealRuleFiles"]),
        // The findings store (SQLite embedded, PostgreSQL shared); knows neither git nor rules.
        .target(name: "KeysealStore", dependencies: ["CSQLite", "CPostgres"]),
        // Joins sources and engine into findings; report writers.
        // _CryptoExtras: PBKDF2 for the slow fingerprints of guessable secrets (BoringSSL's, as Crypto uses).
        .target(name: "KeysealCore", dependencies: ["KeysealGit", "KeysealImage", "KeysealEngine", "KeysealStore", "KeysealRuleFiles", "TOMLKit", "CIsolation", "CWebhookHTTP",
                                                    .product(name: "Crypto", package: "swift-crypto"),
                                                    .product(name: "_CryptoExtras", package: "swift-crypto")]),
        .executableTarget(
            name: "keyseal",
            dependencies: ["KeysealCore", "KeysealImage", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // A scan in a process of its own with the test seams set (killed part way, held in a store
        // write): for StoreTests. Not a product; install.sh builds only keyseal.
        .executableTarget(
            name: "keyseal-test-scan", dependencies: ["KeysealCore", "KeysealStore"], path: "Tests/KeysealTestScan"),
        .testTarget(
            name: "KeysealTests",
            dependencies: ["KeysealCore", "KeysealEngine", "KeysealGit", "KeysealImage", "KeysealStore", "KeysealRuleFiles", "keyseal", "keyseal-test-scan", "CZlib", "CZstd",
                           .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["Fixtures"]),
    ]
)

// Fuzz targets (libFuzzer), built only when KEYSEAL_FUZZ is set: see Fuzz/README.md and Fuzz/run.sh.
// They are executables whose `main` is libFuzzer's, so an ordinary build or `swift test` must not see them.
if Context.environment["KEYSEAL_FUZZ"] != nil {
    let fuzzTargets: [(name: String, module: String)] = [
        ("FuzzTar", "KeysealEngine"), ("FuzzZip", "KeysealEngine"), ("FuzzGzip", "KeysealEngine"),
        ("FuzzDecoders", "KeysealEngine"), ("FuzzMatcher", "KeysealEngine"), ("FuzzPackIndex", "KeysealGit"),
        ("FuzzDockerfile", "KeysealCore"), ("FuzzCompose", "KeysealCore"), ("FuzzKubernetes", "KeysealCore"),
        ("FuzzConfig", "KeysealCore"), ("FuzzBaseline", "KeysealCore"), ("FuzzHookInput", "KeysealCore"),
        ("FuzzImage", "KeysealImage"), ("FuzzStoreRows", "KeysealCore"), ("FuzzPackDelta", "KeysealGit"),
        ("FuzzDeltaScan", "KeysealEngine"), ("FuzzTreeDiff", "KeysealGit"), ("FuzzCommitHeader", "KeysealGit"),
    ]
    package.targets.append(.target(name: "CFuzzDriver", path: "Fuzz/CFuzzDriver"))
    for target in fuzzTargets {
        package.targets.append(.executableTarget(
            name: target.name, dependencies: [.target(name: target.module), "CFuzzDriver"], path: "Fuzz/\(target.name)"))
    }
}

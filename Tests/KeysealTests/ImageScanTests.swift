import Foundation
import KeysealEngine
import XCTest

/// `keyseal image` on images the tests write (no Docker daemon): both `docker save` layouts, OCI
/// layouts as folders and tars, gzip, zstd and plain layers, whiteouts, platforms, attestations,
/// and images that are damaged or hostile.
final class ImageScanTests: XCTestCase {
    var folder: URL!
    let github = FakeSecret.github("image-env")
    let stripe = FakeSecret.stripe("image-layer")
    let npm = ExampleTemplate.expand("npm_⟪an:36⟫", salt: "image-build-arg")
    /// Given to every keyseal run (a PostgreSQL store's password).
    var environment: [String: String] = [:]

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-image-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A three-layer image: a secret in a file the top layer deletes, one in a file it overwrites,
    /// one visible, one in ENV and one as a build argument.
    func leakyImage(compression: ImageFixture.Compression = .gzip) -> ImageFixture.Image {
        typealias M = ImageFixture.Member
        return ImageFixture.Image(
            layers: [
                .init(members: [.folder("etc"), .file("etc/hostname", "app\n")], compression: compression,
                      createdBy: "ADD rootfs.tar / # buildkit"),
                .init(members: [.folder("app"), .file("app/old.env", "STRIPE_KEY=\(stripe)\n"),
                                .file("app/settings.py", "DEBUG = False\nSTRIPE_KEY = '\(stripe)'\n"),
                                .file("app/visible.env", "# prod\nSTRIPE_KEY=\(stripe)\n")],
                      compression: compression, createdBy: "COPY app/ /app/ # buildkit"),
                .init(members: [.whiteout("app/old.env"), .file("app/settings.py", "DEBUG = False\n")],
                      compression: compression, createdBy: "RUN |1 NPM_TOKEN=\(npm) /bin/sh -c rm app/old.env # buildkit"),
            ],
            env: ["PATH=/usr/bin", "GITHUB_TOKEN=\(github)"],
            emptyHistory: ["ENV GITHUB_TOKEN=\(github)"])
    }

    func scan(_ arguments: [String]) throws -> (status: Int32, json: [String: Any], stderr: String) {
        let report = folder.appendingPathComponent("report-\(UUID().uuidString).json")
        let out = try KeysealBinary.run(["image"] + arguments + ["--format", "json", "-o", report.path], in: folder, environment: environment)
        let json = (try? JSONSerialization.jsonObject(with: Data(contentsOf: report))) as? [String: Any] ?? [:]
        for secret in [github, stripe, npm] {
            XCTAssertFalse(out.stdout.contains(secret) || out.stderr.contains(secret), "no clear secret in output")
            XCTAssertFalse((try? String(contentsOf: report, encoding: .utf8))?.contains(secret) ?? false, "no clear secret in the report")
        }
        return (out.status, json, out.stderr)
    }

    func findings(_ json: [String: Any]) -> [[String: Any]] { json["findings"] as? [[String: Any]] ?? [] }

    func place(_ finding: [String: Any]) -> [String: Any] { finding["image"] as? [String: Any] ?? [:] }

    func testALegacyDockerSaveTarballShowsEveryLayerConfigAndBuildArgument() throws {
        let tarball = folder.appendingPathComponent("app.tar")
        _ = try ImageFixture.legacyDockerSave(leakyImage(compression: .none), to: tarball)
        let result = try scan([tarball.path])
        XCTAssertEqual(result.status, 1, result.stderr)
        let found = findings(result.json)
        func find(_ path: String) -> [String: Any]? { found.first { $0["path"] as? String == path } }
        let deleted = try XCTUnwrap(find("app/old.env"), "\(found)")
        XCTAssertEqual(place(deleted)["visibility"] as? String, "deleted")
        XCTAssertEqual(place(deleted)["layer_index"] as? Int, 1)
        XCTAssertEqual(place(deleted)["instruction"] as? String, "COPY app/ /app/ # buildkit")
        XCTAssertEqual(place(deleted)["image"] as? String, "example.com/team/app:1.0")
        XCTAssertEqual(place(deleted)["platform"] as? String, "linux/amd64")
        XCTAssertEqual((place(deleted)["diff_id"] as? String)?.hasPrefix("sha256:"), true)
        XCTAssertEqual(place(try XCTUnwrap(find("app/settings.py")))["visibility"] as? String, "overwritten")
        XCTAssertEqual(place(try XCTUnwrap(find("app/visible.env")))["visibility"] as? String, "visible")
        let env = try XCTUnwrap(found.first { place($0)["source"] as? String == "config" })
        XCTAssertEqual(env["rule"] as? String, "github-pat")
        XCTAssertEqual(env["path"] as? String, "Env[1]")
        let argument = try XCTUnwrap(found.first { ($0["path"] as? String)?.hasPrefix("build argument NPM_TOKEN") == true }, "\(found)")
        XCTAssertEqual(place(argument)["source"] as? String, "history")
        XCTAssertEqual(argument["rule"] as? String, "npm-token")
        // The same secret in three files is one secret (one fingerprint), as it would be in git.
        let stripePrints = Set(found.filter { ($0["rule"] as? String)?.hasPrefix("stripe") == true }.compactMap { $0["fingerprint"] as? String })
        XCTAssertEqual(stripePrints.count, 1)
        // Text: the layer, the instruction and the visibility are shown.
        let text = try KeysealBinary.run(["image", tarball.path], in: folder)
        XCTAssertEqual(text.status, 1)
        XCTAssertTrue(text.stdout.contains("deleted by a later layer, still in the image"), text.stdout)
        XCTAssertTrue(text.stdout.contains("made by: COPY app/ /app/"), text.stdout)
        XCTAssertTrue(text.stdout.contains("build argument NPM_TOKEN"), text.stdout)
        for secret in [github, stripe, npm] { XCTAssertFalse(text.stdout.contains(secret), "no clear secret in the text report") }
        // An instruction is quoted with its build arguments' values and every secret found in it left out.
        let settings = try XCTUnwrap(find("app/settings.py"))
        XCTAssertEqual(place(settings)["layer_index"] as? Int, 1)
        let credentials = ImageFixture.Image(layers: [.init(members: [.file("srv/.env", "STRIPE_KEY=\(stripe)\n")], compression: .none,
                                                             createdBy: "RUN |1 NPM_TOKEN=\(npm) /bin/sh -c curl -u ci:\(github) https://example.test # buildkit")])
        let second = folder.appendingPathComponent("second.tar")
        _ = try ImageFixture.legacyDockerSave(credentials, to: second)
        let quoted = try XCTUnwrap(findings(try scan([second.path]).json).first { $0["path"] as? String == "srv/.env" })
        XCTAssertEqual(place(quoted)["instruction"] as? String, "RUN |1 NPM_TOKEN=… /bin/sh -c curl -u ci:… https://example.test # buildkit")
    }

    func testOCILayoutsGzipZstdPlatformsOpaqueFoldersAndAttestations() throws {
        typealias M = ImageFixture.Member
        var amd = leakyImage(compression: .zstd)
        amd.layers.append(.init(members: [.opaque("app"), .file("app/run", "#!/bin/sh\n")], compression: .gzip,
                                createdBy: "COPY run /app/ # buildkit"))
        var arm = ImageFixture.Image(layers: [.init(members: [.file("srv/arm.env", "STRIPE_KEY=\(stripe)\n")], compression: .none)])
        arm.architecture = "arm64"
        let layout = folder.appendingPathComponent("layout")
        let provenance: [String: Any] = ["_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://slsa.dev/provenance/v0.2",
                                         "predicate": ["invocation": ["parameters": ["args": ["build-arg:GH_TOKEN": github]]]]]
        try ImageFixture.ociLayout(layout, images: [amd, arm], attest: provenance)
        let all = try scan([layout.path])
        XCTAssertEqual(all.status, 1, all.stderr)
        let found = findings(all.json)
        XCTAssertEqual(Set(found.compactMap { place($0)["platform"] as? String }), ["linux/amd64", "linux/arm64"])
        // The opaque folder of the top layer hides everything lower layers put in app/.
        XCTAssertEqual(place(try XCTUnwrap(found.first { $0["path"] as? String == "app/visible.env" }))["visibility"] as? String, "deleted")
        let attested = try XCTUnwrap(found.first { place($0)["source"] as? String == "attestation" }, "\(found)")
        XCTAssertEqual(attested["rule"] as? String, "github-pat")
        XCTAssertEqual(place(try XCTUnwrap(found.first { $0["path"] as? String == "srv/arm.env" }))["layer_index"] as? Int, 0)

        let arm64 = try scan([layout.path, "--platform", "linux/arm64"])
        XCTAssertEqual(Set(findings(arm64.json).compactMap { place($0)["platform"] as? String }), ["linux/arm64"])
        let none = try KeysealBinary.run(["image", layout.path, "--platform", "linux/s390x"], in: folder)
        XCTAssertEqual(none.status, 2)
        XCTAssertTrue(none.stderr.contains("no image for platform linux/s390x") && none.stderr.contains("linux/arm64"), none.stderr)

        // The same layout as a tar reads the same.
        let tarred = folder.appendingPathComponent("layout.tar")
        try ImageFixture.tarFolder(layout, to: tarred)
        XCTAssertEqual(findings(try scan([tarred.path]).json).count, found.count)
    }

    /// The store keeps each layer read (by diff_id) under the rules: a second scan reads none of
    /// them again and reports the same; triage applies; --verify fails a rebuilt image on every
    /// secret not a false positive or accepted, rotated ones included.
    func testTheStoreSkipsKnownLayersAndVerifyChecksARebuiltImage() throws {
        try storeSkipsKnownLayersAndVerifyChecksARebuiltImage(store: folder.appendingPathComponent("store.sqlite").path)
    }

    /// The same with an organisation's PostgreSQL store.
    func testAPostgreSQLStoreSkipsKnownLayersAndVerifyChecksARebuiltImage() throws {
        let server = try PostgresServer.require()
        environment = server.environment
        try storeSkipsKnownLayersAndVerifyChecksARebuiltImage(store: try server.database().url)
    }

    func storeSkipsKnownLayersAndVerifyChecksARebuiltImage(store: String) throws {
        let layout = folder.appendingPathComponent("app")
        // Matches that differ only in their archive member or their byte offset in a binary.
        let env = Array("STRIPE_KEY=\(stripe)\n".utf8)
        let archive = ImageFixture.gzip(ImageFixture.tar([("one/x.env", env, UInt8(ascii: "0"), ""), ("two/x.env", env, UInt8(ascii: "0"), "")]))
        let binary: [UInt8] = [0, 1, 2, 0] + env + [UInt8](repeating: 0, count: 64) + env + [0, 0]
        var image = leakyImage()
        image.layers.append(.init(members: [ImageFixture.Member(path: "opt/bundle.tar.gz", bytes: archive),
                                            ImageFixture.Member(path: "opt/app.bin", bytes: binary)]))
        let built = try ImageFixture.ociLayout(layout, images: [image])[0]
        let first = try scan([layout.path, "--store", store])
        XCTAssertEqual(first.status, 1, first.stderr)
        XCTAssertEqual((first.json["summary"] as? [String: Any])?["blobs_from_store"] as? Int, 0)
        // Damage every layer blob: a scan that read them would fail on their digests.
        for digest in built.layerDigests {
            try Data("not the layer".utf8).write(to: layout.appendingPathComponent("blobs/sha256/" + digest.dropFirst(7)))
        }
        let second = try scan([layout.path, "--store", store])
        XCTAssertEqual(second.status, 1, second.stderr)
        XCTAssertEqual((second.json["summary"] as? [String: Any])?["blobs_from_store"] as? Int, 4, "all four layers from the store")
        // The same findings, field for field (the triage status aside: the first scan had no decisions).
        func summary(_ found: [[String: Any]]) throws -> [String] {
            try found.map { finding in
                var copy = finding
                copy["status"] = nil
                return String(decoding: try JSONSerialization.data(withJSONObject: copy, options: [.sortedKeys]), as: UTF8.self)
            }.sorted()
        }
        XCTAssertEqual(try summary(findings(second.json)), try summary(findings(first.json)))
        XCTAssertEqual(findings(first.json).filter { ($0["path"] as? String)?.hasPrefix("opt/bundle.tar.gz!") == true }.count, 2)
        XCTAssertEqual(findings(first.json).filter { $0["path"] as? String == "opt/app.bin" }.count, 2)

        // The team rotated the Stripe key and rebuilt the image without the ENV token and the
        // build argument, but a lower layer still holds the key.
        let stripePrint = try XCTUnwrap(findings(first.json).first { ($0["rule"] as? String)?.hasPrefix("stripe") == true }?["fingerprint"] as? String)
        let triage = try KeysealBinary.run(["triage", String(stripePrint.prefix(12)), "--status", "rotated", "--store", store], in: folder,
                                           environment: environment)
        XCTAssertEqual(triage.status, 0, triage.stderr)
        let rebuilt = folder.appendingPathComponent("rebuilt")
        try ImageFixture.ociLayout(rebuilt, images: [ImageFixture.Image(layers: [.init(members: [.file("app/old.env", "STRIPE_KEY=\(stripe)\n")]),
                                                                          .init(members: [.whiteout("app/old.env")])])])
        XCTAssertEqual(try scan([rebuilt.path, "--store", store]).status, 0, "a rotated secret does not fail a scan")
        let verified = try scan([rebuilt.path, "--store", store, "--verify"])
        XCTAssertEqual(verified.status, 1, "but a rebuilt image must not hold it")
        let clean = folder.appendingPathComponent("clean")
        try ImageFixture.ociLayout(clean, images: [ImageFixture.Image(layers: [.init(members: [.file("app/run", "#!/bin/sh\n")])])])
        XCTAssertEqual(try scan([clean.path, "--store", store, "--verify"]).status, 0)
        let noStore = try KeysealBinary.run(["image", clean.path, "--verify", "--no-store"], in: folder)
        XCTAssertEqual(noStore.status, 2)
        XCTAssertTrue(noStore.stderr.contains("--verify checks an image against the store"), noStore.stderr)
    }

    /// One picture of a leak: a secret committed (and tagged) and baked into an image has one
    /// fingerprint; findings, the checklist and rebuild show the image beside the commits and tags.
    func testAnImageFindingJoinsTheSameSecretInGitFindingsChecklistAndRebuild() throws {
        let repo = try TestRepository()
        try repo.write("deploy/app.env", "STRIPE_KEY=\(stripe)\n")
        try repo.commit("config")
        try repo.git(["tag", "v1.0"])
        XCTAssertEqual(try KeysealBinary.run(["scan", "--quiet"], in: repo.url).status, 1)
        let tarball = folder.appendingPathComponent("app.tar")
        _ = try ImageFixture.legacyDockerSave(ImageFixture.Image(layers: [.init(members: [.file("app/app.env", "STRIPE_KEY=\(stripe)\n")],
                                                                                compression: .none)]), to: tarball)
        // Run in the repository: its store is the image scan's by default.
        let image = try KeysealBinary.run(["image", tarball.path, "--format", "json"], in: repo.url)
        XCTAssertEqual(image.status, 1, image.stderr)
        let imagePrint = try XCTUnwrap(findings(try XCTUnwrap(JSONSerialization.jsonObject(with: Data(image.stdout.utf8)) as? [String: Any])).first?["fingerprint"] as? String)

        let listed = try KeysealBinary.run(["findings", "--format", "json"], in: repo.url)
        let secrets = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(secrets.count, 1, "one secret in git and in the image: \(secrets)")
        XCTAssertEqual(secrets[0]["fingerprint"] as? String, imagePrint)
        XCTAssertEqual(secrets[0]["images"] as? Int, 1)
        XCTAssertTrue(try KeysealBinary.run(["findings"], in: repo.url).stdout.contains("in 1 image(s)"))

        let checklist = try KeysealBinary.run(["checklist", "--format", "json"], in: repo.url)
        let entries = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(checklist.stdout.utf8)) as? [String: Any])?["entries"] as? [[String: Any]])
        let holding = try XCTUnwrap(entries.first?["images"] as? [[String: Any]], checklist.stdout)
        XCTAssertEqual(holding.first?["image"] as? String, "example.com/team/app:1.0")
        XCTAssertEqual(holding.first?["place"] as? String, "layer 0: app/app.env:1")
        XCTAssertTrue((entries.first?["follow_ups"] as? [String])?.contains { $0.contains("--verify") } ?? false, checklist.stdout)
        let markdown = try KeysealBinary.run(["checklist"], in: repo.url)
        XCTAssertTrue(markdown.stdout.contains("- Images:"), markdown.stdout)

        let rebuild = try KeysealBinary.run(["rebuild"], in: repo.url)
        let requests = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(rebuild.stdout.utf8)) as? [[String: Any]], rebuild.stderr)
        let reason = try XCTUnwrap((requests.first?["reasons"] as? [[String: Any]])?.first)
        XCTAssertEqual(requests.first?["tag"] as? String, "v1.0")
        XCTAssertEqual(reason["images"] as? [String], ["example.com/team/app:1.0 linux/amd64"])
    }

    /// A real registry on loopback: an image pushed to it is pulled by reference and scanned, with
    /// no authentication, with htpasswd basic auth, and with the Bearer token flow; credentials come
    /// from Docker's config.json; a 401 without them is a clear error.
    func testARegistryReferenceIsPulledAnonymouslyWithBasicAuthAndWithATokenService() throws {
        try XCTSkipUnless(RegistryServer.available, "no docker-registry: run ./install.sh --deps-only")
        let layout = folder.appendingPathComponent("push")
        var arm = ImageFixture.Image(layers: [.init(members: [.file("srv/arm.env", "STRIPE_KEY=\(stripe)\n")])])
        arm.architecture = "arm64"
        try ImageFixture.ociLayout(layout, images: [leakyImage(), arm])
        for auth in [RegistryServer.Auth.none, .basic, .token] {
            let registry = try RegistryServer(auth: auth)
            defer { registry.stop() }
            try registry.push(layout: layout, repository: "team/app", tag: "1.0",
                              authorization: try registry.pushAuthorization(auth, repository: "team/app"))
            let reference = "\(registry.host)/team/app:1.0"
            let dockerConfig = folder.appendingPathComponent("docker-\(auth)")
            try FileManager.default.createDirectory(at: dockerConfig, withIntermediateDirectories: true)
            let environment = ["DOCKER_CONFIG": dockerConfig.path]
            if auth != .none {
                // Without credentials: a clear 401 error, exit 2.
                let refused = try KeysealBinary.run(["image", reference, "--no-store"], in: folder, environment: environment)
                XCTAssertEqual(refused.status, 2, "\(auth): \(refused.stderr)")
                XCTAssertTrue(refused.stderr.contains("401") || refused.stderr.contains("refused"), "\(auth): \(refused.stderr)")
                let login = Data("\(RegistryServer.user):\(registry.password)".utf8).base64EncodedString()
                try Data(#"{"auths": {"\#(registry.host)": {"auth": "\#(login)"}}}"#.utf8)
                    .write(to: dockerConfig.appendingPathComponent("config.json"))
            }
            let report = folder.appendingPathComponent("pulled-\(auth).json")
            let out = try KeysealBinary.run(["image", reference, "--no-store", "--format", "json", "-o", report.path], in: folder,
                                            environment: environment)
            XCTAssertEqual(out.status, 1, "\(auth): \(out.stderr)")
            XCTAssertFalse(out.stderr.contains(registry.password), "no password in the output")
            let found = findings(try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any]))
            XCTAssertEqual(Set(found.compactMap { place($0)["platform"] as? String }), ["linux/amd64", "linux/arm64"], "\(auth)")
            XCTAssertEqual(place(found[0])["image"] as? String, reference)
            XCTAssertNotNil(found.first { $0["path"] as? String == "app/old.env" && place($0)["visibility"] as? String == "deleted" })
            // One platform: only its blobs are fetched.
            let arm64 = try KeysealBinary.run(["image", reference, "--no-store", "--platform", "linux/arm64", "--format", "json"],
                                              in: folder, environment: environment)
            let armFound = findings(try XCTUnwrap(JSONSerialization.jsonObject(with: Data(arm64.stdout.utf8)) as? [String: Any], arm64.stderr))
            XCTAssertEqual(Set(armFound.compactMap { place($0)["platform"] as? String }), ["linux/arm64"])
        }
        // A tag that is not there.
        let registry = try RegistryServer(auth: .none)
        defer { registry.stop() }
        let missing = try KeysealBinary.run(["image", "\(registry.host)/team/none:9", "--no-store"], in: folder)
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("not found (404)"), missing.stderr)
    }

    /// An image made by umoci (an OCI image tool, not keyseal's own writer): a secret added in one
    /// layer and deleted in the next (umoci writes the whiteout) is found, and marked deleted.
    func testAnImageMadeByUmoci() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/umoci"), "no umoci: run ./install.sh --deps-only")
        func umoci(_ arguments: [String]) throws { _ = try TestRepository.run("/usr/bin/umoci", arguments, in: folder) }
        try umoci(["init", "--layout", "img"])
        try umoci(["new", "--image", "img:1.0"])
        try umoci(["unpack", "--rootless", "--image", "img:1.0", "bundle"])
        let rootfs = folder.appendingPathComponent("bundle/rootfs/app")
        try FileManager.default.createDirectory(at: rootfs, withIntermediateDirectories: true)
        try "STRIPE_KEY=\(stripe)\n".write(to: rootfs.appendingPathComponent("prod.env"), atomically: true, encoding: .utf8)
        try umoci(["repack", "--image", "img:1.0", "bundle"])
        // A second layer on top of the first: unpacked again, the file deleted, repacked.
        try umoci(["unpack", "--rootless", "--image", "img:1.0", "bundle2"])
        try FileManager.default.removeItem(at: folder.appendingPathComponent("bundle2/rootfs/app/prod.env"))
        try umoci(["repack", "--image", "img:1.0", "bundle2"])
        let result = try scan([folder.appendingPathComponent("img").path])
        XCTAssertEqual(result.status, 1, result.stderr)
        let found = try XCTUnwrap(findings(result.json).first { $0["path"] as? String == "app/prod.env" }, "\(result.json)")
        XCTAssertEqual(place(found)["visibility"] as? String, "deleted")
        XCTAssertEqual(place(found)["image"] as? String, "img:1.0")
    }

    /// A decompression bomb: a small gzip layer that inflates to 300 MiB (one file over the size
    /// limit, then a secret). It is streamed: the large file is skipped as it passes, the secret after
    /// it found, and memory stays far below the layer's size.
    func testALayerThatInflatesFarIsStreamedInBoundedMemory() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "no /usr/bin/time")
        let zeros = ImageFixture.Member(path: "var/big.bin", bytes: [UInt8](repeating: 0, count: 300 << 20))
        let layout = folder.appendingPathComponent("bomb")
        try ImageFixture.ociLayout(layout, images: [ImageFixture.Image(layers: [.init(members: [zeros, .file("app/.env", "STRIPE_KEY=\(stripe)\n")])])])
        let stored = try FileManager.default.contentsOfDirectory(atPath: layout.appendingPathComponent("blobs/sha256").path)
            .map { try FileManager.default.attributesOfItem(atPath: layout.appendingPathComponent("blobs/sha256/\($0)").path)[.size] as? Int ?? 0 }
        XCTAssertLessThan(stored.reduce(0, +), 2 << 20, "the layer is small on disk")
        let out = try TestRepository.capture("/usr/bin/time", ["-f", "peak %M", KeysealBinary.path, "image", layout.path, "--no-store"], in: folder)
        XCTAssertEqual(out.status, 1, out.stderr)
        XCTAssertTrue(out.stdout.contains("var/big.bin: larger than the blob size limit"), out.stdout)
        XCTAssertTrue(out.stdout.contains("app/.env"), out.stdout)
        let peak = try XCTUnwrap(out.stderr.split(whereSeparator: \.isNewline).last { $0.hasPrefix("peak ") }.flatMap { Int($0.dropFirst(5)) }, out.stderr)
        XCTAssertLessThan(peak, 200_000, "peak RSS in KiB: the 300 MiB file is never held")
    }

    /// Images built to hide a secret from a scanner while a container runtime (Go's archive/tar,
    /// Docker's loader) still sees it; each is found or refused, never passed clean.
    func testHostileImagesCannotHideASecret() throws {
        typealias M = ImageFixture.Member
        let env = Array("STRIPE_KEY=\(stripe)\n".utf8)
        func found(_ path: URL, _ extra: [String] = []) throws -> [[String: Any]] {
            let result = try scan([path.path] + extra)
            XCTAssertEqual(result.status, 1, result.stderr)
            return findings(result.json)
        }
        // A FIFO's header claims data: Go reads none, so what follows is the next member.
        let hidden = ImageFixture.tar([("app/.env", env, UInt8(ascii: "0"), "")])
        let fifo = ImageFixture.tar([("run/pipe", Array(hidden.dropLast(1024)), UInt8(ascii: "6"), "")])
        var image = ImageFixture.Image(layers: [.init(members: [])])
        image.layers[0].rawTar = fifo
        let fifoLayout = folder.appendingPathComponent("fifo")
        try ImageFixture.ociLayout(fifoLayout, images: [image])
        XCTAssertEqual(try found(fifoLayout).first?["path"] as? String, "app/.env")

        // A lone zero block before more members: refused, not read as the end.
        var zero = ImageFixture.tar([("a.txt", Array("a\n".utf8), UInt8(ascii: "0"), "")])
        zero = Array(zero.dropLast(1024)) + [UInt8](repeating: 0, count: 512) + ImageFixture.tar([("app/.env", env, UInt8(ascii: "0"), "")])
        var lone = ImageFixture.Image(layers: [.init(members: [], compression: .none)])
        lone.layers[0].rawTar = zero
        let loneLayout = folder.appendingPathComponent("lone-zero")
        try ImageFixture.ociLayout(loneLayout, images: [lone])
        let loneOut = try KeysealBinary.run(["image", loneLayout.path, "--no-store"], in: folder)
        XCTAssertEqual(loneOut.status, 2, loneOut.stderr)

        // A config whose diff_id does not match its layer (the store and de-duplication trust it).
        let legacy = folder.appendingPathComponent("diffid.tar")
        let built = try ImageFixture.legacyDockerSave(leakyImage(compression: .none), to: legacy)
        var bytes = try Data(contentsOf: legacy)
        let right = Data(built.layerDigests[1].utf8), wrong = Data(built.layerDigests[0].utf8)
        while let range = bytes.range(of: right) { bytes.replaceSubrange(range, with: wrong) }
        // The layer file name holds the digest too; only the config's diff_ids are rewritten here.
        try bytes.write(to: legacy)
        let diffOut = try KeysealBinary.run(["image", legacy.path, "--no-store"], in: folder)
        XCTAssertEqual(diffOut.status, 2, diffOut.stderr)

        // index.json shows a clean image, manifest.json another: both are read.
        let clean = ImageFixture.Image(layers: [.init(members: [M.file("etc/hostname", "x\n")])])
        let split = folder.appendingPathComponent("split")
        try ImageFixture.ociLayout(split, images: [clean])
        let leaky = ImageFixture.build(leakyImage())
        try ImageFixture.write(split, blobs: leaky.blobs, index: try Data(contentsOf: split.appendingPathComponent("index.json")).map { $0 })
        try Data(ImageFixture.json([["Config": "blobs/sha256/" + leaky.configDigest.dropFirst(7), "RepoTags": ["evil:1"],
                                     "Layers": leaky.layerDigests.map { "blobs/sha256/" + $0.dropFirst(7) }]]))
            .write(to: split.appendingPathComponent("manifest.json"))
        XCTAssertNotNil(try found(split).first { $0["path"] as? String == "app/old.env" })

        // A manifest marked as an attestation but for a real platform is an image.
        let marked = folder.appendingPathComponent("marked")
        let markedBuilt = ImageFixture.build(leakyImage())
        let index = ImageFixture.json(["schemaVersion": 2, "manifests": [[
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": markedBuilt.manifestDigest, "size": markedBuilt.manifestSize,
            "platform": ["os": "linux", "architecture": "amd64"],
            "annotations": ["vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": "sha256:" + String(repeating: "0", count: 64)]]]])
        try ImageFixture.write(marked, blobs: markedBuilt.blobs, index: index)
        XCTAssertNotNil(try found(marked).first { $0["path"] as? String == "app/old.env" })

        // A path through `..` is the path a runtime extracts, so an allowlisted folder does not hide it.
        let config = folder.appendingPathComponent("allow-vendor.toml")
        try "[allowlist]\npaths = [\"vendor/**\"]\n".write(to: config, atomically: true, encoding: .utf8)
        let dotdot = folder.appendingPathComponent("dotdot")
        try ImageFixture.ociLayout(dotdot, images: [ImageFixture.Image(layers: [.init(members: [M(path: "vendor/../app/.env", bytes: env)])])])
        XCTAssertEqual(try found(dotdot, ["--config", config.path]).first?["path"] as? String, "app/.env")

        // A platform spelled another way is the same platform.
        XCTAssertFalse(try found(dotdot, ["--platform", "Linux/x86_64"]).isEmpty)

        // A missing local path is not pulled from Docker Hub.
        let missing = try KeysealBinary.run(["image", "dist/oci", "--no-store"], in: folder)
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("no such file or folder"), missing.stderr)

        // A path allowlist is applied to what the store recorded, not baked into it.
        let store = folder.appendingPathComponent("allow-store.sqlite").path
        let allowApp = folder.appendingPathComponent("allow-app.toml")
        try "[allowlist]\npaths = [\"app/**\"]\n".write(to: allowApp, atomically: true, encoding: .utf8)
        let plain = folder.appendingPathComponent("plain")
        try ImageFixture.ociLayout(plain, images: [ImageFixture.Image(layers: [.init(members: [M(path: "app/.env", bytes: env)])])])
        XCTAssertEqual(try scan([plain.path, "--store", store, "--config", allowApp.path]).status, 0)
        XCTAssertFalse(try found(plain, ["--store", store]).isEmpty, "the allowlist is gone: the secret is reported")
    }

    /// A layer with a file over the size limit is recorded with that gap: the rescan from the store
    /// reports the same gap without reading the layer; a raised limit reads it again, in full.
    func testALayerNotFullyScannedIsRecordedWithItsGapUntilTheLimitChanges() throws {
        let store = folder.appendingPathComponent("gaps.sqlite").path
        let small = folder.appendingPathComponent("small.toml"), large = folder.appendingPathComponent("large.toml")
        try "max_blob_size = \"1K\"\n".write(to: small, atomically: true, encoding: .utf8)
        try "max_blob_size = \"1M\"\n".write(to: large, atomically: true, encoding: .utf8)
        let padding = String(repeating: "# padding\n", count: 300)
        let layout = folder.appendingPathComponent("gaps")
        try ImageFixture.ociLayout(layout, images: [ImageFixture.Image(layers: [.init(members: [
            .file("app/big.env", padding + "STRIPE_KEY=\(stripe)\n"), .file("app/small.txt", "x\n")])])])
        func summary(_ result: (status: Int32, json: [String: Any], stderr: String)) -> [String: Any] {
            result.json["summary"] as? [String: Any] ?? [:]
        }
        let first = try scan([layout.path, "--store", store, "--config", small.path])
        XCTAssertEqual(summary(first)["blobs_not_fully_scanned"] as? Int, 1, first.stderr)
        let again = try scan([layout.path, "--store", store, "--config", small.path])
        XCTAssertEqual(summary(again)["blobs_from_store"] as? Int, 1)
        XCTAssertEqual(summary(again)["blobs_not_fully_scanned"] as? Int, 1, "the gap is still reported")
        let raised = try scan([layout.path, "--store", store, "--config", large.path])
        XCTAssertEqual(summary(raised)["blobs_from_store"] as? Int, 0, "a raised limit reads the layer again")
        XCTAssertEqual(summary(raised)["blobs_not_fully_scanned"] as? Int, 0)
        XCTAssertEqual(raised.status, 1)
        XCTAssertNotNil(findings(raised.json).first { $0["path"] as? String == "app/big.env" })
    }

    /// keyseal's JSON against its published schema and SARIF against SARIF 2.1.0's, both read by
    /// python's jsonschema.
    func testImageReportsMatchTheirSchemas() throws {
        let python = try XCTUnwrap(ReportTests.pythonWithJSONSchema(), "no python3 with jsonschema: run ./install.sh --deps-only")
        let tarball = folder.appendingPathComponent("app.tar")
        _ = try ImageFixture.legacyDockerSave(leakyImage(compression: .none), to: tarball)
        for (format, schema) in [("json", CIFormatTests.reportSchema),
                                 ("sarif", CIFormatTests.fixtures.appendingPathComponent("sarif-2.1.0.json").path)] {
            let report = folder.appendingPathComponent("image.\(format)").path
            let out = try KeysealBinary.run(["image", tarball.path, "--format", format, "-o", report], in: folder)
            XCTAssertEqual(out.status, 1, out.stderr)
            let check = """
                import json, sys, jsonschema
                jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
                print("ok")
                """
            let result = try TestRepository.capture(python, ["-c", check, schema, report], in: folder)
            XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "ok", "\(format): \(result.stderr)")
        }
    }

    func testDockerSave25AndContainerdNestedIndex() throws {
        for nested in [false, true] {
            let tarball = folder.appendingPathComponent("app-\(nested).tar")
            try ImageFixture.dockerSave25(leakyImage(), to: tarball, scratch: folder, nested: nested)
            let result = try scan([tarball.path])
            XCTAssertEqual(result.status, 1, result.stderr)
            let found = findings(result.json)
            XCTAssertNotNil(found.first { $0["path"] as? String == "app/old.env" && place($0)["visibility"] as? String == "deleted" }, "\(found)")
            XCTAssertEqual(place(found[0])["image"] as? String, "example.com/team/app:1.0")
            XCTAssertEqual((place(found[0])["image_digest"] as? String)?.hasPrefix("sha256:"), true)
        }
    }

    func testACleanImagePassesAndAllowlistsApply() throws {
        let clean = ImageFixture.Image(layers: [.init(members: [.file("etc/hostname", "app\n")])])
        let layout = folder.appendingPathComponent("clean")
        try ImageFixture.ociLayout(layout, images: [clean])
        let out = try KeysealBinary.run(["image", layout.path], in: folder)
        XCTAssertEqual(out.status, 0, out.stderr + out.stdout)
        XCTAssertTrue(out.stdout.contains("No secrets found."), out.stdout)

        let config = folder.appendingPathComponent("keyseal.toml")
        try "[allowlist]\npaths = [\"app/**\"]\n".write(to: config, atomically: true, encoding: .utf8)
        let leaky = folder.appendingPathComponent("leaky")
        try ImageFixture.ociLayout(leaky, images: [leakyImage()])
        let allowed = try scan([leaky.path, "--config", config.path])
        XCTAssertNil(findings(allowed.json).first { ($0["path"] as? String)?.hasPrefix("app/") == true })
        XCTAssertFalse(findings(allowed.json).isEmpty, "the config's secrets are still found")
    }

    /// Damaged and hostile images: a clear error (exit 2) naming what is wrong, nothing quoted.
    func testBrokenImagesAreClearErrors() throws {
        func expectError(_ path: URL, _ fragment: String, line: UInt = #line) throws {
            let out = try KeysealBinary.run(["image", path.path], in: folder)
            XCTAssertEqual(out.status, 2, out.stderr, line: line)
            XCTAssertTrue(out.stderr.contains(fragment), "\(fragment) not in: \(out.stderr)", line: line)
            XCTAssertFalse(out.stderr.contains(stripe), line: line)
        }
        func layout(_ name: String, _ image: ImageFixture.Image? = nil) throws -> (URL, ImageFixture.Built) {
            let url = folder.appendingPathComponent(name)
            let built = try ImageFixture.ociLayout(url, images: [image ?? leakyImage()])[0]
            return (url, built)
        }
        func blob(_ url: URL, _ digest: String) -> URL { url.appendingPathComponent("blobs/sha256/" + digest.dropFirst(7)) }

        let (missing, missingBuilt) = try layout("missing")
        try FileManager.default.removeItem(at: blob(missing, missingBuilt.layerDigests[1]))
        try expectError(missing, "names blob \(missingBuilt.layerDigests[1]), which is not in it")

        let (altered, alteredBuilt) = try layout("altered", leakyImage(compression: .none))
        var bytes = try Data(contentsOf: blob(altered, alteredBuilt.layerDigests[1]))
        bytes[600] ^= 0x20
        try bytes.write(to: blob(altered, alteredBuilt.layerDigests[1]))
        try expectError(altered, "blob \(alteredBuilt.layerDigests[1]) does not match its digest")

        let (badConfig, badConfigBuilt) = try layout("bad-config")
        try Data("{not json".utf8).write(to: blob(badConfig, badConfigBuilt.configDigest))
        try expectError(badConfig, "does not match its digest")

        let malformed = folder.appendingPathComponent("malformed")
        try FileManager.default.createDirectory(at: malformed, withIntermediateDirectories: true)
        try Data("[1, 2".utf8).write(to: malformed.appendingPathComponent("index.json"))
        try expectError(malformed, "index.json is malformed: not JSON")

        let outside = folder.appendingPathComponent("outside.tar")
        try Data(ImageFixture.tar([("manifest.json", ImageFixture.json([["Config": "../../etc/passwd", "Layers": []]]), UInt8(ascii: "0"), "")]))
            .write(to: outside)
        try expectError(outside, "outside itself: ../../etc/passwd")

        // Broken layers whose digests match what they hold: the layer is at fault, not tampering.
        var notTar = leakyImage()
        notTar.layers[0].damage = { _ in ImageFixture.gzip(Array(repeating: UInt8(ascii: "x"), count: 4096)) }
        try expectError(try layout("not-a-tar", notTar).0, "is not a tar archive")

        for compression in [ImageFixture.Compression.gzip, .zstd] {
            var cut = leakyImage(compression: compression)
            cut.layers[1].damage = { Array($0.prefix($0.count / 2)) }
            try expectError(try layout("truncated-\(compression)", cut).0, "cannot be decompressed")
        }

        // A member claiming a size past the end of the file.
        var huge = ImageFixture.header(name: "big", size: 0, type: UInt8(ascii: "0"), link: "")
        let size = Array(String(format: "%011o", 0o77777777777).utf8)
        for (index, byte) in size.enumerated() { huge[124 + index] = byte }
        for index in 148..<156 { huge[index] = 32 }
        let sum = huge.reduce(0) { $0 + Int($1) }
        for (index, byte) in String(format: "%06o", sum).utf8.enumerated() { huge[148 + index] = byte }
        huge[154] = 0
        let absurd = folder.appendingPathComponent("absurd.tar")
        try Data(huge + [UInt8](repeating: 0, count: 1024)).write(to: absurd)
        try expectError(absurd, "runs past the end of the file")

        // Members with an empty name, or a control character for a name (found by FuzzImage:
        // Foundation's path functions trapped on them).
        var oddNames = ImageFixture.Image(layers: [.init(members: [.file("", "x"), .file("\u{1}", "y"), .file("/", "z"), .file("a/", "w")])])
        oddNames.layers[0].compression = .none
        let odd = try KeysealBinary.run(["image", try layout("odd-names", oddNames).0.path, "--no-store"], in: folder)
        XCTAssertEqual(odd.status, 0, odd.stderr)

        let plain = folder.appendingPathComponent("plain.txt")
        try Data("hello\n".utf8).write(to: plain)
        try expectError(plain, "is not a container image")
        try expectError(folder.appendingPathComponent("nothing-here"), "no such file or folder")
    }

    /// Many small files in deep folders: read in one pass, memory and time linear in the layer.
    func testManySmallFilesAndDeepFoldersAreReadInFull() throws {
        var members: [ImageFixture.Member] = []
        var deep = "d"
        for level in 0..<200 { deep += "/\(level)" }
        members.append(.file(deep + "/secret.env", "STRIPE_KEY=\(stripe)\n"))
        for index in 0..<20_000 { members.append(.file("many/\(index % 100)/f\(index).txt", "line \(index)\n")) }
        let layout = folder.appendingPathComponent("many")
        try ImageFixture.ociLayout(layout, images: [ImageFixture.Image(layers: [.init(members: members)])])
        let result = try scan([layout.path])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertEqual(findings(result.json).count, 1)
        XCTAssertEqual((result.json["summary"] as? [String: Any])?["blobs_scanned"] as? Int, 20_001 + 1)
    }
}

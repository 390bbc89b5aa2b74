#!/usr/bin/env python3
"""Container-image scan benchmark (issue 15): `keyseal image` against Kingfisher's `scan docker
--archive`, on one `docker save` tarball, tools interleaved round by round.

    python3 bench/image.py                  # 3 rounds, medians
    python3 bench/image.py --runs 5 --keyseal .build/release/keyseal

The image is built here, without a Docker daemon: a `docker save` tarball in the legacy layout
(manifest.json with Config, RepoTags and Layers; <id>/layer.tar, VERSION and json per layer;
<config digest>.json; repositories), written with tarfile, json and hashlib. Its five layers are
files of this machine, stored with relative paths as image layers store them (usr/lib/python3.11/...):
the Python standard library, parts of /usr/share, /usr/lib/x86_64-linux-gnu, /usr/include and
/opt/swift-packages, each filled up to a size budget (files walked in sorted order, those that no
longer fit left out); the build stops unless they sum past 500 MiB.
Unreadable and special files are skipped. Four secrets are planted, each built at run time from
random pieces:
- layer file: an AWS key id and its secret key in app/config/settings.py (layer 3 of 5);
- deleted file: a Slack bot token in app/old-credentials.env (layer 2), which layer 5 deletes with
  the whiteout app/.wh.old-credentials.env, so it is only in the lower layer;
- ENV: GITHUB_TOKEN=ghp_... in the image config's Env (and, as Docker records it, in the ENV step
  of its history);
- build arg: an npm token in history[].created_by, in BuildKit's form `RUN |1 NPM_TOKEN=... /bin/sh
  -c npm ci`.
The tarball is cached in $BENCH_WORK (default /tmp/keyseal-bench-image) under IMAGE_VERSION, with
the planted values beside it in planted-v<N>.json (mode 0600, never in git); bump IMAGE_VERSION when
the recipe changes.

Commands (KEYSEAL_IMAGE, KEYSEAL_IMAGE_STORED and KINGFISHER_IMAGE below):
- keyseal image TARBALL --format json -o REPORT --no-store
- kingfisher scan docker --archive TARBALL --no-validate --no-limits --no-update-check --format json
  -o REPORT. In Kingfisher 2.14 `--archive` is an option of `scan docker`. Without --no-limits it
  refuses this image ("did not contain Docker image layers", exit 1): its tar extraction stops at
  256 MiB per archive and 10,000 entries, so the whole image is scanned only with the limits off.
  --no-update-check keeps its release check off the network and out of the timing. Kingfisher
  extracts the layers into one temporary folder and scans the files there: it finds the deleted
  file's secret, but its finding does not say the file is deleted.
- the store rescan: keyseal image TARBALL --store STORE --format json -o REPORT, run in a temporary
  folder with HOME pointing there, after one untimed scan that records the image. Where keyseal
  keeps an image's store is not settled: change KEYSEAL_IMAGE_STORED when it is.

Method: one untimed warm-up run of each tool (page cache, rule caches), then --runs rounds; medians
of wall time and of peak RSS, the largest sum of the RSS of the tool and its descendants, sampled
every 10 ms from /proc (bench/run.py's run_measured). A run that exits with an unexpected status or
writes no readable report stops the script; no sample is dropped. Which planted secrets a tool found
is read from its last round's report: keyseal's JSON findings carry `path`, `preview`, and under `image`
`source` (layer, config, history, attestation, annotation) and `visibility` (visible, deleted, overwritten);
`preview` is at
most the secret's first 4 characters, then `…`. A planted secret counts as found by keyseal when a
finding has its path (layer file; for the deleted file also visibility "deleted") or its source
(config for ENV, history for the build arg) and a preview that begins the planted value. Kingfisher's
JSON holds the clear values; they are compared, never printed.

Floors (issue 15): keyseal finds all 4 planted secrets; keyseal's wall time at most 0.5 x
Kingfisher's; keyseal's peak RSS under 300 MB (10^6 bytes); the store rescan under 1 s.

Until keyseal has an `image` command (its --help lists none), the keyseal rows are skipped with a
message and only Kingfisher is measured; the floors then read n/a.
"""
import argparse
import hashlib
import io
import json
import os
import random
import re
import statistics
import string
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the peers' install, keyseal's build and the /proc RSS sampling)

# Bump when the image's recipe (layers, files, planted secrets) changes: the cached tarball is rebuilt.
IMAGE_VERSION = 1
REPO_TAG = "keyseal-bench/app:v1"
# Fixed so that an image built twice from the same files has the same config.
CREATED_EPOCH = 1714557600
CREATED = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(CREATED_EPOCH))

KEYSEAL_IMAGE = ["{keyseal}", "image", "{tarball}", "--format", "json", "-o", "{report}", "--no-store"]
# Where keyseal keeps an image's store is not settled yet: change this when it is.
KEYSEAL_IMAGE_STORED = ["{keyseal}", "image", "{tarball}", "--store", "{store}", "--format", "json", "-o", "{report}"]
KINGFISHER_IMAGE = ["{kingfisher}", "scan", "docker", "--archive", "{tarball}", "--no-validate", "--no-limits",
                    "--no-update-check", "--format", "json", "-o", "{report}"]

MIB = 1 << 20
# Each layer: its sources (machine folder, stored at its path without the leading /), a size budget,
# and the step that made it in the history.
LAYERS = [
    {"sources": ["/usr/lib/python3.11", "/usr/lib/python3"], "budget": 150 * MIB,
     "created_by": "ADD rootfs.tar / # buildkit"},
    {"sources": ["/usr/share/doc", "/usr/share/perl", "/usr/share/i18n", "/usr/share/zoneinfo", "/usr/share/mime",
                 "/usr/share/vim", "/usr/share/man", "/usr/share/locale"], "budget": 170 * MIB,
     "created_by": "RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends perl vim # buildkit"},
    {"sources": ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"], "budget": 200 * MIB,
     "created_by": "RUN |1 NPM_TOKEN={npm} /bin/sh -c npm ci # buildkit"},
    {"sources": ["/usr/include"], "budget": 150 * MIB,
     "created_by": "COPY include/ /usr/include/ # buildkit"},
    {"sources": ["/opt/swift-packages", "/usr/lib/gcc"], "budget": 150 * MIB,
     "created_by": "RUN /bin/sh -c rm -f /app/old-credentials.env && make vendor # buildkit"},
]
MINIMUM_IMAGE = 500 * MIB
PLACES = ["layer file", "deleted file", "ENV", "build arg"]
SETTINGS_PATH = "app/config/settings.py"
DELETED_PATH = "app/old-credentials.env"


def pieces(alphabet, count, rng):
    return "".join(rng.choice(alphabet) for _ in range(count))


def plant(rng):
    """The four planted secrets, from random pieces (no secret is ever written in this file)."""
    alnum = string.ascii_letters + string.digits
    aws_id = "AKIA" + pieces(string.ascii_uppercase + "234567", 16, rng)
    aws_key = pieces(alnum + "/+", 40, rng)
    slack = "-".join(["xoxb", pieces(string.digits, 12, rng), pieces(string.digits, 13, rng), pieces(alnum, 24, rng)])
    github = "ghp_" + pieces(alnum, 36, rng)
    npm = "npm_" + pieces(alnum, 36, rng)
    return [
        {"place": "layer file", "path": SETTINGS_PATH, "values": [aws_id, aws_key]},
        {"place": "deleted file", "path": DELETED_PATH, "values": [slack]},
        {"place": "ENV", "source": "config", "values": [github]},
        {"place": "build arg", "source": "history", "values": [npm]},
    ]


def planted_value(planted, place, index=0):
    return next(p for p in planted if p["place"] == place)["values"][index]


def app_files(index, planted):
    """The application files the layer at `index` (from 0) adds beside the machine's files: (path, bytes)."""
    if index == 1:
        slack = planted_value(planted, "deleted file")
        return [(DELETED_PATH, f"# Moved to the vault; delete after the migration.\nSLACK_BOT_TOKEN={slack}\n"
                               "SLACK_CHANNEL=#deploys\n".encode())]
    if index == 2:
        aws_id, aws_key = planted_value(planted, "layer file", 0), planted_value(planted, "layer file", 1)
        settings = ("# Settings for the exports service.\nimport os\n\nDEBUG = False\n"
                    "ALLOWED_HOSTS = [\"exports.internal\"]\n"
                    "EXPORT_BUCKET = \"exports-prod\"\n\n# The export job's own credentials.\n"
                    f"aws_access_key_id = \"{aws_id}\"\naws_secret_access_key = \"{aws_key}\"\n"
                    "REGION = os.environ.get(\"AWS_REGION\", \"eu-west-1\")\n")
        return [("app/__init__.py", b""), ("app/config/__init__.py", b""), (SETTINGS_PATH, settings.encode())]
    if index == 4:
        return [("app/.wh.old-credentials.env", b"")]  # the whiteout: the file is deleted from here up
    return []


def root_entry(path, directory):
    info = tarfile.TarInfo(path)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.mtime = CREATED_EPOCH
    info.uname = info.gname = "root"
    return info


def add_bytes(tar, path, data):
    info = root_entry(path, False)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def add_folders(tar, path, added):
    """Entries for the folders above `path`, as a layer has them, each once."""
    parts = path.strip("/").split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        if folder not in added:
            added.add(folder)
            tar.addfile(root_entry(folder, True))


def add_machine_files(tar, sources, budget, added):
    """Walks `sources` in sorted order, adding each file that fits in what is left of the budget; returns
    the bytes added."""
    total = 0
    for source in sources:
        if not os.path.isdir(source) or os.path.islink(source):
            continue
        add_folders(tar, source.strip("/") + "/x", added)
        for folder, subfolders, files in os.walk(source):
            subfolders.sort()
            for name in sorted(files) + [d for d in subfolders if os.path.islink(os.path.join(folder, d))]:
                path = os.path.join(folder, name)
                arcname = path.lstrip("/")
                try:
                    status = os.lstat(path)
                except OSError:
                    continue
                if os.path.islink(path):
                    info = tar.gettarinfo(path, arcname)
                    tar.addfile(info)
                    continue
                if not os.path.isfile(path):
                    continue  # devices, sockets, FIFOs
                if total + status.st_size > budget:
                    continue  # too large for what is left; smaller files further on may fit
                try:
                    handle = open(path, "rb")  # before gettarinfo, which would record the inode for hard links
                except OSError:
                    continue
                with handle:
                    info = tar.gettarinfo(arcname=arcname, fileobj=handle)
                    info.uname = info.gname = "root"
                    info.uid = info.gid = 0
                    tar.addfile(info, handle if info.isreg() else None)
                    if info.isreg():
                        total += info.size
            for name in subfolders:
                path = os.path.join(folder, name)
                if not os.path.islink(path):
                    added.add(path.lstrip("/"))
                    info = tar.gettarinfo(path, path.lstrip("/"))
                    info.uname = info.gname = "root"
                    info.uid = info.gid = 0
                    tar.addfile(info)
    return total


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def config_document(planted, diff_ids):
    github = planted_value(planted, "ENV")
    npm = planted_value(planted, "build arg")
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
           f"GITHUB_TOKEN={github}"]

    def step(created_by, empty=False):
        entry = {"created": CREATED, "created_by": created_by, "comment": "buildkit.dockerfile.v0"}
        return dict(entry, empty_layer=True) if empty else entry

    history = [step(LAYERS[0]["created_by"]), step("ENV LANG=C.UTF-8", True), step(LAYERS[1]["created_by"]),
               step("ARG NPM_TOKEN", True), step(LAYERS[2]["created_by"].format(npm=npm)),
               step(f"ENV GITHUB_TOKEN={github}", True), step(LAYERS[3]["created_by"]), step(LAYERS[4]["created_by"]),
               step("WORKDIR /app", True), step('CMD ["python3", "-m", "app"]', True)]
    return {
        "architecture": "amd64", "os": "linux", "created": CREATED,
        "config": {"Env": env, "Cmd": ["python3", "-m", "app"], "WorkingDir": "/app",
                   "Labels": {"org.opencontainers.image.title": "exports",
                              "org.opencontainers.image.source": "https://git.example.com/exports"}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for d in diff_ids]},
        "history": history,
    }


def build_image(tarball, planted, layers=LAYERS, minimum=MINIMUM_IMAGE):
    """Writes the `docker save` tarball; returns the bytes of each layer tar."""
    work = os.path.dirname(tarball)
    layer_files, diff_ids, sizes = [], [], []
    try:
        for index, layer in enumerate(layers):
            path = os.path.join(work, f"layer-{index}.tar.partial")
            layer_files.append(path)
            added = set()
            with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
                add_machine_files(tar, layer["sources"], layer["budget"], added)
                for name, data in app_files(index, planted):
                    add_folders(tar, name, added)
                    add_bytes(tar, name, data)
            diff_ids.append(sha256_file(path))
            sizes.append(os.path.getsize(path))
        if sum(sizes) < minimum:
            sys.exit(f"bench: the layers sum to {sum(sizes) / MIB:.0f} MiB, under {minimum / MIB:.0f} MiB: "
                     "this machine lacks the folders LAYERS names; add others")
        config = json.dumps(config_document(planted, diff_ids), indent=2).encode()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        ids, parent = [], ""
        partial = tarball + ".partial"
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as out:
            for path, diff_id in zip(layer_files, diff_ids):
                layer_id = hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()
                out.addfile(root_entry(layer_id, True))
                add_bytes(out, f"{layer_id}/VERSION", b"1.0")
                add_bytes(out, f"{layer_id}/json", json.dumps(
                    dict({"id": layer_id, "created": CREATED, "os": "linux"},
                         **({"parent": parent} if parent else {}))).encode())
                out.add(path, f"{layer_id}/layer.tar")
                ids.append(layer_id)
                parent = layer_id
            add_bytes(out, config_name, config)
            manifest = [{"Config": config_name, "RepoTags": [REPO_TAG], "Layers": [f"{i}/layer.tar" for i in ids]}]
            add_bytes(out, "manifest.json", json.dumps(manifest).encode())
            name, tag = REPO_TAG.rsplit(":", 1)
            add_bytes(out, "repositories", json.dumps({name: {tag: ids[-1]}}).encode())
        os.replace(partial, tarball)
    finally:
        for path in layer_files:
            if os.path.exists(path):
                os.remove(path)
    return sizes


def image_for(work):
    """The cached tarball and its planted secrets, built first when absent."""
    tarball = os.path.join(work, f"image-v{IMAGE_VERSION}.tar")
    planted_file = os.path.join(work, f"planted-v{IMAGE_VERSION}.json")
    if os.path.isfile(tarball) and os.path.isfile(planted_file):
        with open(planted_file) as handle:
            return tarball, json.load(handle)
    planted = plant(random.SystemRandom())
    # Written first and alone readable by its owner; the tarball appears only once complete.
    descriptor = os.open(planted_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(planted, handle)
    print(f"building {tarball} ...", flush=True)
    sizes = build_image(tarball, planted)
    print("layers (MiB): " + ", ".join(f"{s / MIB:.0f}" for s in sizes) + f"; total {sum(sizes) / MIB:.0f}")
    return tarball, planted


def keyseal_has_image(keyseal):
    """Whether this keyseal lists an `image` subcommand (`keyseal image --help` alone falls back to the
    top-level help, exit 0, so the listing is what tells)."""
    result = subprocess.run([keyseal, "--help"], capture_output=True, text=True)
    return re.search(r"^  image(\s|$)", result.stdout, re.M) is not None


def command(template, **values):
    return [part.format(**values) for part in template]


def load_findings(report):
    try:
        with open(report) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data.get("findings", []) if isinstance(data, dict) else data


def keyseal_found(findings, planted):
    """The places whose planted secret keyseal reports, judged on path or source and the preview."""
    found = set()
    for secret in planted:
        for finding in findings:
            prefix = str(finding.get("preview", "")).split("…")[0]
            if not prefix or not any(v.startswith(prefix) for v in secret["values"]):
                continue
            place = finding.get("image") or {}
            if "path" in secret:
                if place.get("source", "layer") != "layer":
                    continue
                if str(finding.get("path", "")).lstrip("/") != secret["path"]:
                    continue
                if secret["place"] == "deleted file" and place.get("visibility") != "deleted":
                    continue
            elif place.get("source") != secret["source"]:
                continue
            found.add(secret["place"])
    return found


def strings_in(value):
    """Every string anywhere in a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def kingfisher_found(findings, planted):
    """The places whose planted value stands in one of Kingfisher's findings (compared, never printed)."""
    texts = [" ".join(strings_in(f)) for f in findings]
    return {s["place"] for s in planted if any(v in text for v in s["values"] for text in texts)}


def measure(tool, cmd, report, ok_status, cwd=None, env=None):
    if os.path.exists(report):
        os.remove(report)
    status, wall, _, rss = run.run_measured(cmd, env=env, cwd=cwd)
    findings = load_findings(report)
    if status not in ok_status or findings is None:
        sys.exit(f"bench: {tool} exited {status}" + ("" if findings is not None else " and wrote no readable report")
                 + f"; not timed. The command: {' '.join(cmd)}")
    return wall, rss, findings


def verdict(ok):
    return "PASS" if ok else "FAIL"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keyseal", help="a keyseal binary (default: build release)")
    args = parser.parse_args()
    work = os.environ.get("BENCH_WORK", "/tmp/keyseal-bench-image")
    os.makedirs(work, exist_ok=True)
    tarball, planted = image_for(work)
    binaries = run.peer_binaries(["kingfisher"])
    binaries["keyseal"] = os.path.abspath(run.keyseal_binary(args.keyseal))
    tools = ["keyseal", "kingfisher"]
    if not keyseal_has_image(binaries["keyseal"]):
        print(f"keyseal image not available: {binaries['keyseal']} lists no `image` subcommand; "
              "measuring Kingfisher alone\n")
        tools = ["kingfisher"]
    print(f"machine: {os.cpu_count()} cores; {args.runs} rounds; medians; "
          f"image {os.path.getsize(tarball) / MIB:.0f} MiB, {len(LAYERS)} layers ({tarball})")
    for tool, version in run.versions(binaries, tools).items():
        print(f"- {tool}: {version}")
    print()

    samples = {tool: [] for tool in tools}
    stored = []
    with tempfile.TemporaryDirectory() as tmp:
        reports = {tool: os.path.join(tmp, f"{tool}.json") for tool in tools}
        commands = {"keyseal": command(KEYSEAL_IMAGE, keyseal=binaries["keyseal"], tarball=tarball,
                                       report=reports.get("keyseal", "")),
                    "kingfisher": command(KINGFISHER_IMAGE, kingfisher=binaries["kingfisher"], tarball=tarball,
                                          report=reports["kingfisher"])}
        ok_status = {"keyseal": {0, 1}, "kingfisher": run.OK_STATUS["kingfisher"]}
        for tool in tools:  # warm-up: page cache, rule caches
            measure(tool, commands[tool], reports[tool], ok_status[tool])
        for _ in range(args.runs):
            for tool in tools:
                samples[tool].append(measure(tool, commands[tool], reports[tool], ok_status[tool]))
        has_store = "keyseal" in tools and "--store" in subprocess.run(
            [binaries["keyseal"], "image", "--help"], capture_output=True, text=True).stdout
        if "keyseal" in tools and not has_store:
            print("keyseal image has no --store yet: the store rescan is not measured")
        if has_store:
            home = os.path.join(tmp, "home")
            os.makedirs(home)
            report = os.path.join(tmp, "keyseal-stored.json")
            rescan = command(KEYSEAL_IMAGE_STORED, keyseal=binaries["keyseal"], tarball=tarball, report=report,
                             store=os.path.join(home, "store.sqlite"))
            env = dict(os.environ, HOME=home)
            measure("keyseal (store, recording)", rescan, report, {0, 1}, cwd=home, env=env)
            for _ in range(args.runs):
                stored.append(measure("keyseal (store rescan)", rescan, report, {0, 1}, cwd=home, env=env))

    found = {}
    print("| tool | wall s | peak RSS MiB | findings | " + " | ".join(PLACES) + " |")
    print("|---|---|---|---|" + "---|" * len(PLACES))
    medians = {}
    for tool in tools:
        runs = samples[tool]
        wall, rss = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        medians[tool] = (wall, rss)
        last = runs[-1][2]
        found[tool] = keyseal_found(last, planted) if tool == "keyseal" else kingfisher_found(last, planted)
        marks = " | ".join("yes" if place in found[tool] else "no" for place in PLACES)
        print(f"| {tool} | {wall:.2f} | {rss:.0f} | {len(last)} | {marks} |")
    if stored:
        wall, rss = statistics.median(r[0] for r in stored), statistics.median(r[1] for r in stored)
        medians["stored"] = (wall, rss)
        print(f"| keyseal, store rescan | {wall:.2f} | {rss:.0f} | {len(stored[-1][2])} |" + " |" * len(PLACES))

    print("\nfloors:")
    if "keyseal" not in tools:
        for floor in ["keyseal finds all 4", "keyseal wall <= 0.5 x Kingfisher", "keyseal peak RSS < 300 MB",
                      "store rescan < 1 s"]:
            print(f"- {floor}: n/a (keyseal image not available)")
        return
    k, kf = medians["keyseal"], medians["kingfisher"]
    print(f"- keyseal finds all 4: {len(found['keyseal'])}/4 {verdict(len(found['keyseal']) == 4)}")
    print(f"- keyseal wall <= 0.5 x Kingfisher: {k[0] / kf[0]:.2f} x {verdict(k[0] <= 0.5 * kf[0])}")
    print(f"- keyseal peak RSS < 300 MB: {k[1] * MIB / 1e6:.0f} MB {verdict(k[1] * MIB < 300e6)}")
    if "stored" in medians:
        print(f"- store rescan < 1 s: {medians['stored'][0]:.2f} s {verdict(medians['stored'][0] < 1)}")
    else:
        print("- store rescan < 1 s: n/a (not measured)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Adversarial-input benchmark: how keyseal's full scan copes with hostile blob shapes, against an
ordinary text blob of the same size, in the same run.

    python3 bench/hostile.py                     # 1, 5 and 25 MB, 3 rounds, medians
    python3 bench/hostile.py --sizes 1,5 --runs 1 --shapes percent,tar-many

Each shape is written into its own one-commit repository (built here, in $BENCH_WORK/hostile) and
scanned by `keyseal scan --no-store --threads 1` (one thread, so RSS is one thread's). For each it
prints CPU seconds (user+sys), MB/s, peak RSS, and two ratios:
  - slowdown: the shape's CPU time per byte over the ordinary text blob's of the same size, both
    net of a scan of a one-line repository (start-up, rule loading); a compressed shape (gzip-text)
    per inflated byte;
  - RSS/size: peak RSS above that one-line scan's, over the blob size (inflated size for gzip-text).
CPU times come from /usr/bin/time at 10 ms resolution: at 1 MB, where the ordinary blob takes a few
hundredths of a second, ratios are coarse; the 5 and 25 MB rows are the ones to read.
The floor the hardening issue sets: slowdown at most 10, RSS/size at most 2. A row that breaks it is
marked FAIL. Exit codes and findings are checked: a crashed or timed-out scan is reported, never timed.
"""
import argparse
import base64
import gzip
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MB = 1 << 20


def token():
    # A GitHub-shaped token assembled here, so none is committed; the checksum is not valid.
    rng = random.Random(7)
    return "ghp_" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(36))


def ordinary(size):
    """Source-like text: assignments, calls, comments, some long lines; no secrets."""
    rng = random.Random(1)
    words = ["value", "config", "request", "session", "result", "handler", "client", "index", "buffer", "user"]
    lines = []
    total = 0
    while total < size:
        a, b = rng.choice(words), rng.choice(words)
        kind = rng.randrange(4)
        if kind == 0:
            line = f"    {a}_{b} = {rng.randrange(10**6)}  # {a} for {b}"
        elif kind == 1:
            line = f"    result = {a}.{b}({a}_{rng.randrange(100)}, timeout={rng.randrange(60)})"
        elif kind == 2:
            line = f"def {a}_{b}(self, {a}, {b}=None):"
        else:
            line = "    # " + " ".join(rng.choice(words) for _ in range(rng.randrange(3, 20)))
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()[:size]


def repeat(unit, size, tail=b""):
    body = unit * (max(0, size - len(tail)) // len(unit))
    return body + tail


def tar_many(size):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        i = 0
        while buf.tell() < size:
            data = f"line {i}\n".encode()
            info = tarfile.TarInfo(f"d/{i}.txt")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
            i += 1
    return buf.getvalue()


def zip_many(size):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        i = 0
        while buf.tell() < size:
            z.writestr(f"d/{i}.txt", f"line {i}\n")
            i += 1
    return buf.getvalue()


def zip_nested(size):
    """Zips nested 6 deep (past the depth bound), padded with a stored filler member."""
    inner = b"TOKEN=" + token().encode() + b"\n"
    for depth in range(6):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.writestr(f"level{depth}.zip" if depth else "a.env", inner)
            if depth == 5:
                z.writestr("filler.txt", ordinary(max(0, size - len(inner) - 400)))
        inner = buf.getvalue()
    return inner


def b64_nested(size):
    """base64 of base64 of ... (depth 5) of an assignment, repeated on lines named *_B64."""
    value = b"TOKEN=" + token().encode()
    for _ in range(5):
        value = base64.b64encode(value)
    return repeat(b"SECRET_B64=" + value + b"\n", size)


def b64_nested_clean(size):
    """The same nesting (base64 five deep, on *_B64 lines) of text holding no secret: the cost of
    decoding layers alone, without thousands of findings to report."""
    value = b"NOTE=" + b"nothing to see here, " * 3
    for _ in range(5):
        value = base64.b64encode(value)
    return repeat(b"NOTE_B64=" + value + b"\n", size)


def json_deep(size):
    depth = size // 2
    return b"[" * depth + b"]" * depth


SHAPES = {
    # repeated locator prefixes
    "percent": lambda n: repeat(b"%41", n, b"\ntoken=" + token().encode() + b"\n"),
    "json-escape-lines": lambda n: repeat(b"\\/\n", n, b"\ntoken=" + token().encode() + b"\n"),
    "base64-pem-header": lambda n: repeat(b"LS0tLS1CRUdJTi", n),
    "base64-assigned": lambda n: repeat(b"x_b64=QUFBQUFBQUFBQUFBQUFBQUFB ", n),
    "k8s-secret-data": lambda n: b"kind: Secret\ndata:\n" + repeat(b"  k: QUFBQUFBQUFBQUFBQUFBQQ==\n", n - 19),
    # long single lines
    "one-line-text": lambda n: ordinary(n).replace(b"\n", b" "),
    "one-line-prefixes": lambda n: repeat(b"ghp_ ", n),
    "one-line-password": lambda n: repeat(b"password=", n),
    "one-line-pem-begin": lambda n: repeat(b"-----BEGIN PRIVATE KEY-----", n),
    # many tiny lines
    "tiny-lines": lambda n: repeat(b"a\n", n),
    "tiny-assignments": lambda n: repeat(b"k=v\n", n),
    # deep nesting
    "json-deep": json_deep,
    "base64-nested-findings": b64_nested,
    "base64-nested-clean": b64_nested_clean,
    "zip-nested": zip_nested,
    # many archive members
    "tar-many": tar_many,
    "zip-many": zip_many,
    "gzip-text": lambda n: gzip.compress(ordinary(n)),
    # parsers the scan's audit runs on HEAD
    "dockerfile-continuations": lambda n: b"FROM alpine\nRUN true \\\n" + repeat(b"  && echo x \\\n", n - 40) + b"  && true\n",
}


# Shapes whose blob inflates to the nominal size: compared per inflated byte.
INFLATED = {"gzip-text"}


def keyseal_binary(explicit):
    if explicit:
        return explicit
    subprocess.run(["swift", "build", "-c", "release", "--product", "keyseal"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    folder = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    return os.path.join(folder, "keyseal")


def make_repo(path, name, data):
    if os.path.isdir(path):
        return
    os.makedirs(path)
    env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.test", GIT_COMMITTER_NAME="b",
               GIT_COMMITTER_EMAIL="b@example.test")
    subprocess.run(["git", "init", "-q", path], check=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)
    subprocess.run(["git", "-C", path, "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", path, "commit", "-q", "-m", "shape"], check=True, env=env)


def measure(binary, repo, timeout):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        timing = os.path.join(tmp, "t")
        # --max-blob-size: the 25 MB shapes are a little over the default limit, and are to be scanned.
        cmd = ["/usr/bin/time", "-o", timing, "-f", "%e %U %S %M", binary, "scan", repo, "--quiet", "--no-store", "--max-blob-size", "200M",
               "--threads", "1", "--format", "json", "--report", out]
        try:
            status = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return None, "timeout"
        wall, user, system, rss = open(timing).read().split()[-4:]
        if status not in (0, 1):
            return None, f"exit {status}"
        summary = json.load(open(out))["summary"]
        return (float(user) + float(system), int(rss) * 1024, summary), None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,5,25", help="MB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--keyseal", help="a keyseal binary (default: build release)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds before a scan counts as hung")
    args = parser.parse_args()
    binary = keyseal_binary(args.keyseal)
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    work = os.path.join(os.environ.get("BENCH_WORK", "/tmp/keyseal-bench"), "hostile")
    os.makedirs(work, exist_ok=True)
    print(f"keyseal {version}; {os.cpu_count()} cores; --threads 1; {args.runs} rounds; medians; rule cache warm\n")
    base_repo = os.path.join(work, "one-line")
    make_repo(base_repo, "a.txt", b"x = 1\n")
    measure(binary, base_repo, args.timeout)  # warm the rule cache and page cache

    def median_of(repo):
        samples = []
        for _ in range(args.runs):
            sample, error = measure(binary, repo, args.timeout)
            if error:
                return None, error
            samples.append(sample)
        return (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples), samples[-1][2]), None

    (base_cpu, base_rss, _), _ = median_of(base_repo)
    print(f"one-line repository: {base_cpu:.3f} CPU s, {base_rss / MB:.0f} MiB peak RSS (subtracted below)\n")
    failures = 0
    for size_mb in (int(s) for s in args.sizes.split(",")):
        size = size_mb * MB
        text_repo = os.path.join(work, f"ordinary-{size_mb}")
        make_repo(text_repo, "code.py", ordinary(size))
        (text_cpu, text_rss, _), error = median_of(text_repo)
        text_net = max(text_cpu - base_cpu, 1e-3)
        print(f"## {size_mb} MB\n")
        print(f"ordinary text: {text_cpu:.2f} CPU s, {size / MB / text_net:.1f} MB/s net, {text_rss / MB:.0f} MiB\n")
        print("| shape | blob MB | CPU s | MB/s | peak RSS MiB | slowdown | RSS/size | notes |")
        print("|---|---|---|---|---|---|---|---|")
        for shape in args.shapes.split(","):
            data = SHAPES[shape](size)
            name = "Dockerfile" if shape.startswith("dockerfile") else {"tar-many": "a.tar", "zip-many": "a.zip",
                   "zip-nested": "a.zip", "gzip-text": "a.gz"}.get(shape, "data.txt")
            repo = os.path.join(work, f"{shape}-{size_mb}")
            make_repo(repo, name, data)
            result, error = median_of(repo)
            blob_mb = len(data) / MB
            if error:
                failures += 1
                print(f"| {shape} | {blob_mb:.1f} | - | - | - | - | - | FAIL: {error} |")
                continue
            cpu, rss, summary = result
            net = max(cpu - base_cpu, 1e-3)
            # A compressed shape is charged per byte scanned (inflated), not per compressed byte.
            basis = size if shape in INFLATED else len(data)
            slowdown = (net / basis) / (text_net / size)
            rss_ratio = max(rss - base_rss, 0) / basis
            notes = []
            for key in ("archives_truncated", "blobs_skipped_large", "blobs_not_fully_scanned"):
                if summary.get(key):
                    notes.append(f"{key}={summary[key]}")
            if summary.get("findings"):
                notes.append(f"findings={summary['findings']}")
            bad = slowdown > 10 or rss_ratio > 2
            failures += bad
            print(f"| {shape} | {blob_mb:.1f} | {cpu:.2f} | {blob_mb / net:.1f} | {rss / MB:.0f} | {slowdown:.1f} | "
                  f"{rss_ratio:.2f} | {'FAIL ' if bad else ''}{', '.join(notes)} |")
        print()
    print(f"{failures} row(s) over the floor (slowdown 10, RSS/size 2)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""How a full-history scan grows with history: the same corpus cut at older tags (a single-branch
clone of each tag's history), each scanned with --no-store; prints commits, unique blobs, MiB of blob
revisions, wall time, peak RSS, and wall ms per commit and per MB, so linear growth (or not) shows.

    python3 bench/growth.py                      # redis at 2.6.0, 4.0.0, 6.0.0, 7.2.0 and all refs
    python3 bench/growth.py --repo git --tags v1.5.0,v2.0.0,v2.20.0
    python3 bench/growth.py --keyseal BIN --runs 3

Medians of --runs scans per cut; the machine is shared, so compare the rows of one run.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as fullrun  # noqa: E402

DEFAULT_TAGS = {"redis": "2.6.0,4.0.0,6.0.0,7.2.0", "git": "v1.5.0,v2.0.0,v2.20.0"}


def scan(keyseal, repo, report):
    """Wall seconds and peak RSS (KiB) of one scan, from /usr/bin/time."""
    timing = tempfile.mktemp(prefix="keyseal-growth-time-")
    cmd = ["/usr/bin/time", "-f", "%e %M", "-o", timing, keyseal, "scan", repo, "--quiet", "--no-store",
           "--format", "json", "--report", report]
    status = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    if status not in (0, 1):
        sys.exit(f"growth: keyseal exited {status} on {repo}")
    with open(timing) as handle:
        wall, rss = handle.read().split()[-2:]
    os.remove(timing)
    return float(wall), int(rss)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default="redis")
    parser.add_argument("--tags")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keyseal")
    args = parser.parse_args()
    work = os.environ.get("BENCH_WORK", "/tmp/keyseal-bench")
    os.makedirs(work, exist_ok=True)
    keyseal = os.path.abspath(fullrun.keyseal_binary(args.keyseal))
    base = fullrun.clone(args.repo, work)
    tags = (args.tags or DEFAULT_TAGS.get(args.repo, "")).split(",")
    cuts = []
    for tag in [t for t in tags if t]:
        target = os.path.join(work, f"growth-{args.repo}-{tag}")
        if not os.path.isdir(target):
            subprocess.run(["git", "clone", "-q", "--no-local", "--single-branch", "--no-tags", "--branch", tag, base, target],
                           check=True, stderr=subprocess.DEVNULL)
        cuts.append((tag, target))
    cuts.append(("all refs", base))
    scratch = tempfile.mkdtemp(prefix="keyseal-growth-")
    report = os.path.join(scratch, "out.json")
    print(f"{args.repo}; {args.runs} run(s) per cut, medians; --no-store, rule cache warm\n")
    print("| history | commits | unique blobs | MiB of blob revisions | wall s | peak RSS MiB | ms per commit | ms per MB |")
    print("|---|---|---|---|---|---|---|---|")
    scan(keyseal, cuts[0][1], report)  # warm the rule cache
    for name, repo in cuts:
        walls, rsss = [], []
        for _ in range(args.runs):
            wall, rss = scan(keyseal, repo, report)
            walls.append(wall)
            rsss.append(rss)
        with open(report) as handle:
            summary = json.load(handle)["summary"]
        commits, blobs, size = summary["commits"], summary["blobs_scanned"], summary["bytes_scanned"]
        wall = statistics.median(walls)
        print(f"| {name} | {commits:,} | {blobs:,} | {size / 2**20:,.0f} | {wall:.2f} | {statistics.median(rsss) / 1024:.0f} "
              f"| {1000 * wall / max(commits, 1):.3f} | {1000 * wall / max(size / 1e6, 1):.2f} |")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A/B of two keyseal binaries in one run, alternating, medians: a warm `keyseal staged` (5 files,
200 added lines, in a clone of ../shared/corpora/redis.git) and a full-history scan of redis.git.
For changes that must not cost time (issue 12: rules as data must not slow startup).

    python3 bench/ab.py OLD_BINARY NEW_BINARY [--staged-runs 21] [--scan-runs 5]

Both binaries get their own warm rule cache (one untimed run first). Wall time per run, exit codes
and report sizes checked: a binary that fails is not timed as valid.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as fullrun  # noqa: E402


def git(repo, *args):
    subprocess.run(["git", "-C", repo] + list(args), check=True, capture_output=True)


CPU = {}


def timed(cmd, cwd, env, expect, cpu=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in expect:
        sys.exit(f"{cmd[0]} exited {done.returncode}: {done.stderr.decode()[:300]}")
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--staged-runs", type=int, default=21)
    parser.add_argument("--scan-runs", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="keyseal-ab-")
    base = fullrun.clone("redis", work)
    repo = os.path.join(work, "redis-staged")
    subprocess.run(["git", "clone", "-q", base, repo], check=True)
    for i in range(5):
        with open(os.path.join(repo, "src", f"ab_{i}.c"), "w") as f:
            f.write("".join(f"int ab_{i}_{n} = {n}; /* line {n} */\n" for n in range(40)))
    git(repo, "add", "-A")
    binaries = {"old": os.path.abspath(args.old), "new": os.path.abspath(args.new)}
    envs = {}
    for name in binaries:
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(work, f"cache-{name}"))
        envs[name] = env
        timed([binaries[name], "staged"], repo, env, {0})  # warms the rule cache
    staged = {name: [] for name in binaries}
    staged_cpu = {name: [] for name in binaries}
    for _ in range(args.staged_runs):
        for name in binaries:
            staged[name].append(timed([binaries[name], "staged"], repo, envs[name], {0}, staged_cpu[name]))
    scans = {name: [] for name in binaries}
    scans_cpu = {name: [] for name in binaries}
    for _ in range(args.scan_runs):
        for name in binaries:
            scans[name].append(timed([binaries[name], "scan", "--no-store", "--quiet", "--format", "json", base],
                                     work, envs[name], {0, 1}, scans_cpu[name]))
    for label, series, runs in (("warm staged", staged, args.staged_runs), ("full scan redis.git", scans, args.scan_runs),
                                ("warm staged, CPU time", staged_cpu, args.staged_runs),
                                ("full scan redis.git, CPU time", scans_cpu, args.scan_runs)):
        if runs == 0:
            continue  # --scan-runs 0: hooks only
        old, new = statistics.median(series["old"]), statistics.median(series["new"])
        print(f"{label}: median of {runs}, old {old * 1000:.1f} ms, new {new * 1000:.1f} ms, new/old {new / old:.3f}"
              f" (old min/max {min(series['old']) * 1000:.1f}/{max(series['old']) * 1000:.1f},"
              f" new {min(series['new']) * 1000:.1f}/{max(series['new']) * 1000:.1f})")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

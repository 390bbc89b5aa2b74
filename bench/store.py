#!/usr/bin/env python3
"""Store speed on a clone of ../shared/corpora/redis.git: first-scan overhead of the store against
--no-store, an unchanged second scan, and a rescan after 10 new commits.

    python3 bench/store.py            # 3 runs each, medians
    python3 bench/store.py --pairs 41 --keyseal NEW --against OLD
        # the first scan only: 41 pairs of --no-store and a new store for each binary, the binaries
        # interleaved pair by pair; each binary's overhead by the medians and by the median pair
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as fullrun  # noqa: E402


def timed(cmd, cwd):
    start = time.perf_counter()
    status = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    if status not in (0, 1):
        sys.exit(f"bench: {' '.join(cmd[:2])} exited {status}; not timed")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keyseal")
    parser.add_argument("--pairs", type=int, help="measure only the first scan's overhead, in this many alternating pairs")
    parser.add_argument("--against", help="with --pairs: another keyseal binary, interleaved with the first")
    args = parser.parse_args()
    work = os.environ.get("BENCH_WORK", "/tmp/keyseal-bench")
    os.makedirs(work, exist_ok=True)
    keyseal = os.path.abspath(fullrun.keyseal_binary(args.keyseal))
    # Its own clone: the commits this benchmark adds must not leave objects the other scripts' scans read.
    base = fullrun.clone("redis", work)
    repo = os.path.join(work, "redis-store")
    if os.path.isdir(repo):
        shutil.rmtree(repo)
    subprocess.run(["git", "clone", "-q", "--no-local", base, repo], check=True)
    subprocess.run(["git", "-C", repo, "fetch", "-q", "origin", "+refs/heads/*:refs/heads/*", "--update-head-ok"], check=True)
    scratch = tempfile.mkdtemp(prefix="keyseal-store-bench-")
    store = os.path.join(scratch, "store.sqlite")
    scan = [keyseal, "scan", repo, "--quiet", "--format", "json", "--report", os.path.join(scratch, "out.json")]
    subprocess.run(scan + ["--no-store"], capture_output=True)  # warm the page cache and the rule cache
    if args.pairs:
        first_scan_pairs(args, keyseal, repo, scratch, store)
        return

    no_store, with_store, unchanged, after_ten = [], [], [], []
    for run in range(args.runs):
        no_store.append(timed(scan + ["--no-store"], repo))
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(store + suffix):
                os.remove(store + suffix)
        with_store.append(timed(scan + ["--store", store], repo))
        unchanged.append(timed(scan + ["--store", store], repo))
        branch = f"bench-store-{os.getpid()}-{run}"
        subprocess.run(["git", "-C", repo, "checkout", "-q", "-b", branch], check=True)
        for i in range(10):
            path = os.path.join(repo, "src", f"bench_store_{i}.c")
            with open(path, "a") as handle:
                handle.write(f"int bench_store_{run}_{i} = {i};\n")
            subprocess.run(["git", "-C", repo, "add", path], check=True)
            subprocess.run(["git", "-C", repo, "-c", "user.name=B", "-c", "user.email=b@example.test", "commit", "-q",
                            "--no-verify", "-m", f"bench {i}"], check=True)
        after_ten.append(timed(scan + ["--store", store], repo))
        subprocess.run(["git", "-C", repo, "checkout", "-q", "-"], check=True)
        subprocess.run(["git", "-C", repo, "branch", "-q", "-D", branch], check=True)
    median = statistics.median
    version = subprocess.run([keyseal, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"keyseal {version}; redis clone of its own; {args.runs} runs, medians; rule cache warm\n")
    print("| scan | wall s |")
    print("|---|---|")
    print(f"| first scan, --no-store | {median(no_store):.2f} |")
    print(f"| first scan, recording into a new store | {median(with_store):.2f} |")
    print(f"| second scan, nothing changed | {median(unchanged):.2f} |")
    print(f"| after 10 new commits | {median(after_ten):.2f} |")
    print(f"\nstore overhead on the first scan: {100 * (median(with_store) / median(no_store) - 1):+.1f}%")
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(repo, ignore_errors=True)


def first_scan_pairs(args, keyseal, repo, scratch, store):
    binaries = [keyseal] + ([os.path.abspath(args.against)] if args.against else [])
    for binary in binaries[1:]:
        subprocess.run([binary, "scan", repo, "--quiet", "--no-store"], capture_output=True)
    times = {binary: ([], []) for binary in binaries}
    for _ in range(args.pairs):
        for binary in binaries:
            scan = [binary, "scan", repo, "--quiet", "--format", "json", "--report", os.path.join(scratch, "out.json")]
            times[binary][0].append(timed(scan + ["--no-store"], repo))
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(store + suffix):
                    os.remove(store + suffix)
            times[binary][1].append(timed(scan + ["--store", store], repo))
    median = statistics.median
    print(f"first scan of a redis clone, {args.pairs} alternating pairs (--no-store, then a new store) per binary\n")
    print("| binary | --no-store s | new store s | overhead (medians) | overhead (median pair) |")
    print("|---|---|---|---|---|")
    for binary, (bare, stored) in times.items():
        pairs = median([b / a - 1 for a, b in zip(bare, stored)])
        print(f"| {binary} | {median(bare):.3f} | {median(stored):.3f} | {100 * (median(stored) / median(bare) - 1):+.1f}% "
              f"| {100 * pairs:+.1f}% |")
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(repo, ignore_errors=True)


if __name__ == "__main__":
    main()

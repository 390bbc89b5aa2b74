#!/usr/bin/env python3
"""Hook latency: `keyseal staged` on a change of 5 files and 200 added lines, and `keyseal pre-push`
for 20 new commits, in a clone of ../shared/corpora/redis.git; peers' staged scans on the same change.

    python3 bench/hooks.py            # 15 runs each, medians
    python3 bench/hooks.py --runs 31

Warm: the compiled rule cache exists (the normal case after the first run). Cold: a fresh, empty
cache directory for every run. Peers come from bench/.venv (see bench/run.py).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as fullrun  # noqa: E402  (peer installation and corpus cloning live there)


def git(repo, *args, **kw):
    return subprocess.run(["git", "-C", repo] + list(args), check=True, capture_output=True, text=True, **kw).stdout


def prepare(work):
    base = fullrun.clone("redis", work)
    repo = os.path.join(work, "redis-hooks")
    if os.path.isdir(repo):
        shutil.rmtree(repo)
    subprocess.run(["git", "clone", "-q", base, repo], check=True)
    git(repo, "config", "user.name", "Bench")
    git(repo, "config", "user.email", "bench@example.test")
    # 20 new commits on a branch whose base the remote has.
    git(repo, "checkout", "-q", "-b", "bench-push")
    for i in range(20):
        path = os.path.join(repo, "src", f"bench_push_{i % 5}.c")
        with open(path, "a") as handle:
            handle.writelines(f"int bench_value_{i}_{k} = {i * 100 + k};\n" for k in range(10))
        git(repo, "add", path)
        git(repo, "commit", "-q", "--no-verify", "-m", f"bench commit {i}")
    # A staged change: 5 files, 40 added lines each.
    for i in range(5):
        path = os.path.join(repo, "src", f"bench_staged_{i}.c")
        with open(path, "w") as handle:
            handle.writelines(f"static int staged_{i}_{k}(int x) {{ return x * {k} + {i}; }}\n" for k in range(40))
        git(repo, "add", path)
    return repo


def timed(cmd, runs, env=None, stdin=None, before=None):
    """Median milliseconds; every run must exit 0 (nothing found), or the figure would time a failure."""
    samples = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        status = subprocess.run(cmd, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env).returncode
        samples.append((time.perf_counter() - start) * 1000)
        if status != 0:
            sys.exit(f"bench: {' '.join(cmd[:3])} exited {status}; not timed")
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keyseal", help="a keyseal binary (default: build release)")
    args = parser.parse_args()
    work = os.environ.get("BENCH_WORK", "/tmp/keyseal-bench")
    os.makedirs(work, exist_ok=True)
    keyseal = os.path.abspath(fullrun.keyseal_binary(args.keyseal))
    peers = fullrun.peer_binaries(["kingfisher", "gitleaks", "betterleaks"])
    repo = prepare(work)
    os.chdir(repo)
    cache = tempfile.mkdtemp(prefix="keyseal-cache-")
    warm_env = dict(os.environ, XDG_CACHE_HOME=cache)

    def cold():
        shutil.rmtree(cache, ignore_errors=True)
        os.makedirs(cache)

    rows = []
    subprocess.run([keyseal, "staged"], env=warm_env, capture_output=True)  # fills the cache
    rows.append(("keyseal staged (warm cache)", timed([keyseal, "staged"], args.runs, env=warm_env)))
    rows.append(("keyseal staged (cold cache)", timed([keyseal, "staged"], args.runs, env=warm_env, before=cold)))
    subprocess.run([keyseal, "staged"], env=warm_env, capture_output=True)
    tip = git(repo, "rev-parse", "bench-push").strip()
    base = git(repo, "rev-parse", "origin/unstable" if "origin/unstable" in git(repo, "branch", "-r") else "HEAD~20").strip()
    line = f"refs/heads/bench-push {tip} refs/heads/bench-push {'0' * 40}\n".encode()
    url = git(repo, "remote", "get-url", "origin").strip()
    # The figure is only worth quoting if the hook really walked the 20 new commits.
    report = os.path.join(cache, "pre-push.json")
    subprocess.run([keyseal, "pre-push", "origin", url, "--report", report], input=line, env=warm_env, capture_output=True)
    commits = json.load(open(report))["summary"]["commits"]
    if commits != 20:
        sys.exit(f"bench: pre-push scanned {commits} commits, not the 20 new ones; not timed")
    rows.append(("keyseal pre-push, 20 new commits (warm)", timed([keyseal, "pre-push", "origin", url], args.runs,
                                                                   env=warm_env, stdin=line)))
    rows.append(("gitleaks git --staged", timed([peers["gitleaks"], "git", "--staged", "--no-banner", "--exit-code", "0", repo], args.runs)))
    rows.append(("betterleaks git --staged", timed([peers["betterleaks"], "git", "--staged", "--no-banner", "--exit-code", "0", repo], args.runs)))
    rows.append(("kingfisher scan --staged", timed([peers["kingfisher"], "scan", repo, "--staged", "--no-validate"], args.runs)))
    for tool, version in fullrun.versions(dict(peers, keyseal=keyseal), ["keyseal", "gitleaks", "betterleaks", "kingfisher"]).items():
        print(f"- {tool}: {version}")
    print(f"redis clone; staged change: 5 files, 200 added lines; pre-push: 20 commits over {base[:10]}; {args.runs} runs, medians\n")
    print("| command | median ms |")
    print("|---|---|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} |")
    warm = rows[0][1]
    print()
    for name, ms in rows[3:]:
        print(f"{name.split()[0]} staged / keyseal staged (warm): {ms / warm:.1f}x")
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()

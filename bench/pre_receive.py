#!/usr/bin/env python3
"""Pre-receive benchmark: the time a server's hook takes to judge a push of N new commits, keyseal
against gitleaks run the way a gitleaks pre-receive hook runs it (`gitleaks git --log-opts OLD..NEW`).

A bare copy of a corpus (default redis.git) is cut back so that its only branch ends N first-parent
commits before the tip; the hook's input is then `<old> <tip> refs/heads/<branch>`, and every commit
reachable from the tip and from no ref counts as new (keyseal's rule; gitleaks is given the same
range). Medians of --runs rounds, printed with the keyseal/gitleaks ratio. The floors (issue 18):
20 commits under 0.2 s, 1,000 commits under 3 s, on a 2-core machine.

    bench/pre_receive.py [--corpus redis] [--commits 20,1000] [--runs 3] [--keyseal BIN]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the peers' install and keyseal's build, shared with the scan benchmark)


def git(repo, *args, **kw):
    return subprocess.run(["git", "-C", repo] + list(args), check=True, capture_output=True, text=True, **kw).stdout


def server_for(corpus, work):
    """A bare copy of the corpus and its tip (kept in a file: the cuts below delete the refs)."""
    server = os.path.join(work, corpus + "-server.git")
    tip_file = server + ".tip"
    if not os.path.isfile(tip_file):
        subprocess.run(["rm", "-rf", server], check=True)
        subprocess.run(["git", "clone", "-q", "--bare", os.path.join(run.CORPORA, corpus + ".git"), server], check=True)
        with open(tip_file, "w") as out:
            out.write(git(server, "rev-parse", "HEAD").strip())
    with open(tip_file) as tip:
        return server, tip.read().strip()


def cut(server, branch, tip, commits):
    """Leaves one ref, `branch`, `commits` first-parent commits behind `tip`; returns (old, new count)."""
    refs = git(server, "for-each-ref", "--format=delete %(refname)").splitlines()
    subprocess.run(["git", "-C", server, "update-ref", "--stdin"], input="\n".join(refs) + "\n", text=True, check=True)
    old = git(server, "rev-list", "--first-parent", f"--skip={commits}", "-n", "1", tip).strip()
    git(server, "update-ref", f"refs/heads/{branch}", old)
    new = int(git(server, "rev-list", "--count", tip, "--not", "--all").strip())
    return old, new


def timed(cmd, cwd, stdin=None):
    start = time.monotonic()
    result = subprocess.run(cmd, cwd=cwd, input=stdin, text=True, capture_output=True)
    return time.monotonic() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="redis")
    parser.add_argument("--commits", default="20,1000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keyseal", help="a keyseal binary (default: a release build of this checkout)")
    args = parser.parse_args()
    keyseal = run.keyseal_binary(args.keyseal)
    gitleaks = run.peer_binaries(["gitleaks"])["gitleaks"]
    work = os.path.join(tempfile.gettempdir(), "keyseal-bench-pre-receive")
    os.makedirs(work, exist_ok=True)
    server, tip = server_for(args.corpus, work)
    branch = "bench"
    print(f"corpus {args.corpus}, tip {tip[:10]}, {args.runs} run(s) each; medians")
    for count in [int(n) for n in args.commits.split(",")]:
        old, new = cut(server, branch, tip, count)
        line = f"{old} {tip} refs/heads/{branch}\n"
        times = {"keyseal": [], "gitleaks": []}
        keyseal_report = os.path.join(work, "keyseal.json")
        gitleaks_report = os.path.join(work, "gitleaks.json")
        for _ in range(args.runs):
            seconds, result = timed([keyseal, "pre-receive", "-o", keyseal_report], server, line)
            if result.returncode not in (0, 1):
                sys.exit(f"keyseal pre-receive exited {result.returncode}: {result.stderr[-500:]}")
            times["keyseal"].append(seconds)
            seconds, result = timed([gitleaks, "git", server, "--no-banner", "--log-opts", f"{old}..{tip}",
                                     "--exit-code", "0", "--report-format", "json", "--report-path", gitleaks_report], server)
            if result.returncode != 0:
                sys.exit(f"gitleaks exited {result.returncode}: {result.stderr[-500:]}")
            times["gitleaks"].append(seconds)
        k, g = statistics.median(times["keyseal"]), statistics.median(times["gitleaks"])
        with open(keyseal_report) as report:
            summary = json.load(report)
        with open(gitleaks_report) as report:
            leaks = len(json.load(report))
        found = len(summary.get("findings", []))
        print(f"{count:>5} first-parent commits ({new} new): keyseal {k:.3f} s, gitleaks {g:.3f} s, ratio {k / g:.2f}; "
              f"findings: keyseal {found} (blobs scanned {summary['summary'].get('blobs_scanned', '?')}), gitleaks {leaks}")


if __name__ == "__main__":
    main()

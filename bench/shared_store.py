#!/usr/bin/env python3
"""Shared-store benchmark (issue 16): keyseal's PostgreSQL store on loopback under load, and at an
organisation's scale.

1. Load test. Eight scanners at once into one PostgreSQL store: three clones of requests.git and
   three of redis.git under different repository names, plus a second clone of one of each under
   the same name as its first (two runners of one job). Then the same eight scans at once, each into
   an SQLite store of its own. Prints both wall times and their ratio, throughput (commits and
   blobs a second), and checks exactly that the occurrences PostgreSQL recorded for each repository
   equal that repository's SQLite store (the twins' stores counted once), and that the secrets are
   the union of the SQLite stores' secrets.
2. Scale simulation. Generates the rows of 2,000 repositories (10 million occurrences, 100,000
   secrets, one summary row per repository and secret) in a second database, then times
   `keyseal findings --all-repositories` and `keyseal checklist --all-repositories` against it
   (end to end, and the query alone with psql), and one real repository's incremental rescan in that
   store against the same rescan into SQLite. Floors: org-wide queries under 2 s each; the rescan
   under 1 s beyond the SQLite figure.

The server is a throwaway cluster (initdb and pg_ctl, as the tests make it) in a temporary folder.

    bench/shared_store.py [--keyseal BIN] [--runs 3] [--skip-load] [--skip-scale] [--repositories 2000]
"""
import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (keyseal's build and the corpora's folder, shared with the scan benchmark)


class Cluster:
    """A throwaway PostgreSQL cluster on a free loopback port (as the postgres user when root)."""

    def __init__(self, work):
        versions = sorted(int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit())
        if not versions:
            sys.exit("PostgreSQL is not installed (./install.sh --deps-only installs it)")
        self.bin = f"/usr/lib/postgresql/{versions[-1]}/bin"
        self.folder = tempfile.mkdtemp(prefix="keyseal-bench-pg-", dir=work)
        os.chmod(self.folder, 0o755)
        self.data = os.path.join(self.folder, "data")
        self.socket = os.path.join(self.folder, "socket")
        os.makedirs(self.data)
        os.makedirs(self.socket)
        self.password = "bench-" + os.urandom(6).hex()
        with open(os.path.join(self.folder, "pw"), "w") as out:
            out.write(self.password + "\n")
        self.as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] if os.getuid() == 0 else []
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", "postgres", self.folder], check=True)
        subprocess.run(self.as_user + [f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust",
                                       "--auth-host=scram-sha-256", "--pwfile", os.path.join(self.folder, "pw"), "-E", "UTF8",
                                       "--no-sync"], check=True, stdout=subprocess.DEVNULL)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        options = (f"-p {self.port} -k {self.socket} -c listen_addresses=127.0.0.1 -c max_connections=100 "
                   "-c shared_buffers=512MB -c work_mem=64MB -c maintenance_work_mem=512MB -c synchronous_commit=off")
        subprocess.run(self.as_user + [f"{self.bin}/pg_ctl", "-D", self.data, "-l", os.path.join(self.data, "log"), "-w",
                                       "-o", options, "start"], check=True, stdout=subprocess.DEVNULL)

    def url(self, database):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def env(self, database, **extra):
        environment = dict(os.environ, PGPASSWORD=self.password, KEYSEAL_STORE=self.url(database))
        environment.update(extra)
        return environment

    def sql(self, statements, database="postgres"):
        return subprocess.run(["psql", "-h", self.socket, "-p", str(self.port), "-U", "postgres", "-d", database, "-v",
                               "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", statements],
                              check=True, capture_output=True, text=True).stdout.strip()

    def stop(self):
        subprocess.run(self.as_user + [f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.folder, ignore_errors=True)


def clone(corpus, target):
    if not os.path.isdir(target):
        subprocess.run(["git", "clone", "-q", "--bare", os.path.join(run.CORPORA, corpus + ".git"), target], check=True)
    return target


def scan_all(keyseal, jobs, environment_of, store_of):
    """Starts every job's scan at once; returns the wall time and each job's JSON summary."""
    start = time.monotonic()
    running = []
    for name, path in jobs:
        report = path + ".report.json"
        command = [keyseal, "scan", path, "--quiet", "--no-audit", "--repository", name, "--format", "json", "-o", report]
        command += store_of(name, path)
        running.append((name, path, report, subprocess.Popen(command, env=environment_of(name, path),
                                                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
    results = []
    for name, path, report, process in running:
        _, stderr = process.communicate()
        if process.returncode not in (0, 1):
            sys.exit(f"keyseal scan of {name} ({path}) exited {process.returncode}: {stderr[-800:]}")
        with open(report) as data:
            results.append((name, path, json.load(data)["summary"]))
    return time.monotonic() - start, results


def load_test(keyseal, cluster, work, runs):
    jobs = []
    for corpus in ("requests", "redis"):
        for index in (1, 2, 3):
            jobs.append((f"bench.example/{corpus}-{index}", clone(corpus, os.path.join(work, f"{corpus}-{index}.git"))))
        # A second runner of the first one's job: another clone, the same repository name.
        jobs.append((f"bench.example/{corpus}-1", clone(corpus, os.path.join(work, f"{corpus}-1-twin.git"))))
    print(f"load test: {len(jobs)} scanners at once ({', '.join(sorted({n for n, _ in jobs}))}; two names scanned twice), "
          f"{runs} run(s), medians")
    pg_times, sqlite_times = [], []
    for round_ in range(runs):
        database = f"load{round_}"
        cluster.sql(f"CREATE DATABASE {database}")
        subprocess.run([keyseal, "store", "migrate"], env=cluster.env(database), check=True, stdout=subprocess.DEVNULL)
        seconds, pg_results = scan_all(keyseal, jobs, lambda n, p: cluster.env(database), lambda n, p: [])
        pg_times.append(seconds)
        stores = {}

        def sqlite_store(name, path):
            stores.setdefault(name, []).append(path + ".store.sqlite")
            if os.path.exists(path + ".store.sqlite"):
                os.remove(path + ".store.sqlite")
            return ["--store", path + ".store.sqlite"]

        environment = dict(os.environ)
        environment.pop("KEYSEAL_STORE", None)
        seconds, sqlite_results = scan_all(keyseal, jobs, lambda n, p: environment, sqlite_store)
        sqlite_times.append(seconds)
        # Exact check: per repository, PostgreSQL's occurrences are the SQLite store's (each twin's store
        # must agree with its first), and the secrets are the union of theirs.
        mismatches = []
        union = set()
        for name, files in sorted(stores.items()):
            counts = []
            for file in files:
                with sqlite3.connect(file) as db:
                    counts.append(db.execute("SELECT count(*) FROM occurrences").fetchone()[0])
                    union.update(row[0] for row in db.execute("SELECT fingerprint FROM secrets"))
            recorded = int(cluster.sql(f"SELECT count(*) FROM keyseal.occurrences WHERE repository = '{name}'", database))
            if len(set(counts)) != 1 or recorded != counts[0]:
                mismatches.append(f"{name}: PostgreSQL {recorded}, SQLite {counts}")
        secrets = set(cluster.sql("SELECT fingerprint FROM keyseal.secrets", database).split())
        total = int(cluster.sql("SELECT count(*) FROM keyseal.occurrences", database))
        expected = 0
        for name, files in stores.items():
            with sqlite3.connect(files[0]) as db:
                expected += db.execute("SELECT count(*) FROM occurrences").fetchone()[0]
        blobs_pg = sum(s.get("blobs_scanned", 0) for _, _, s in pg_results)
        blobs_sqlite = sum(s.get("blobs_scanned", 0) for _, _, s in sqlite_results)
        commits = sum(s.get("commits", 0) for _, _, s in sqlite_results)
        print(f"  run {round_ + 1}: PostgreSQL {pg_times[-1]:.2f} s, SQLite {sqlite_times[-1]:.2f} s; occurrences "
              f"{total} recorded = {expected} in the per-repository SQLite stores: {'exact' if total == expected and not mismatches else 'MISMATCH'}; "
              f"secrets {len(secrets)} = union {len(union)}: {'exact' if secrets == union else 'MISMATCH'}; "
              f"blobs read {blobs_pg} (PostgreSQL, shared across repositories) vs {blobs_sqlite} (SQLite)")
        for line in mismatches:
            print("    " + line)
        if mismatches or total != expected or secrets != union:
            sys.exit("load test: the shared store lost or doubled something")
    pg, lite = statistics.median(pg_times), statistics.median(sqlite_times)
    print(f"load test medians: PostgreSQL {pg:.2f} s, SQLite {lite:.2f} s, ratio {pg / lite:.2f}; "
          f"throughput {commits / pg:.0f} commits/s and {blobs_sqlite / pg:.0f} blob revisions/s of history covered (PostgreSQL)")


def timed(command, environment, runs, output=None):
    times = []
    for _ in range(runs):
        start = time.monotonic()
        result = subprocess.run(command, env=environment, stdout=output or subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.monotonic() - start)
        if result.returncode not in (0, 1):
            sys.exit(f"{' '.join(command)} exited {result.returncode}: {result.stderr[-800:]}")
    return statistics.median(times)


def scale(keyseal, cluster, work, runs, repositories):
    database = "scale"
    cluster.sql(f"CREATE DATABASE {database}")
    subprocess.run([keyseal, "store", "migrate"], env=cluster.env(database), check=True, stdout=subprocess.DEVNULL)
    per_repository, places = 50, 100
    secrets = 100_000
    start = time.monotonic()
    # Each repository holds 48 secrets of its own and 2 from a pool of 1,000 that many share; each
    # secret-in-repository has 100 places. Fingerprints and ids are md5s of counters (64 and 40 hex).
    secret_of = (f"CASE WHEN k < 48 THEN r * 48 + k ELSE {repositories * 48} + (r + (k - 48) * 500) % 1000 END")
    cluster.sql(f"""
        SET synchronous_commit = off;
        INSERT INTO keyseal.secrets (fingerprint, rule, provider, description, preview, first_seen, status)
        SELECT md5('s' || i) || md5('t' || i), 'github-pat', 'GitHub', 'GitHub personal access token (classic)', 'ghp_...',
               '2024-01-01T00:00:00Z', CASE WHEN i % 10 = 0 THEN 'rotated' ELSE 'open' END
        FROM generate_series(0, {secrets - 1}) i;
        INSERT INTO keyseal.occurrences (repository, fingerprint, blob, path, commit_id, commit_time, line, col, author, email, date,
                                         rules_hash, detail)
        SELECT 'sim.example/team/repo' || r, md5('s' || ({secret_of})) || md5('t' || ({secret_of})),
               substr(md5('b' || r || '-' || k || '-' || j) || md5('x'), 1, 40), 'src/file' || j || '.env',
               substr(md5('c' || r || '-' || j) || md5('y'), 1, 40), 1700000000 + j, j + 1, 1, 'Dev', 'dev@example.test',
               '2024-01-01T00:00:00+00:00', 'simulated', NULL
        FROM generate_series(0, {repositories - 1}) r, generate_series(0, {per_repository - 1}) k, generate_series(0, {places - 1}) j;
        INSERT INTO keyseal.repository_secrets (repository, fingerprint, occurrences, first_commit, first_path, first_line, first_col,
                                                first_author, first_email, first_date, in_head, refs, tag_commits)
        SELECT 'sim.example/team/repo' || r, md5('s' || ({secret_of})) || md5('t' || ({secret_of})), {places},
               substr(md5('c' || r || '-0') || md5('y'), 1, 40), 'src/file0.env', 1, 1, 'Dev', 'dev@example.test',
               '2024-01-01T00:00:00+00:00', (k % 2),
               '["refs/heads/main","refs/remotes/origin/main","refs/tags/v' || (k % 5) || '"]',
               '{{"refs/tags/v' || (k % 5) || '":"' || substr(md5('c' || r || '-0') || md5('y'), 1, 40) || '"}}'
        FROM generate_series(0, {repositories - 1}) r, generate_series(0, {per_repository - 1}) k
        ON CONFLICT DO NOTHING;
        INSERT INTO keyseal.scanned_commits (repository, commit_id, rules_hash)
        SELECT 'sim.example/team/repo' || r, substr(md5('c' || r || '-' || j) || md5('y'), 1, 40), 'simulated'
        FROM generate_series(0, {repositories - 1}) r, generate_series(0, {places - 1}) j;
        ANALYZE;
        """, database)
    occurrences = int(cluster.sql("SELECT count(*) FROM keyseal.occurrences", database))
    summaries = int(cluster.sql("SELECT count(*) FROM keyseal.repository_secrets", database))
    size = cluster.sql(f"SELECT pg_size_pretty(pg_database_size('{database}'))", database)
    print(f"scale simulation: {repositories} repositories, {occurrences} occurrences, {secrets} secrets, {summaries} summary rows "
          f"({size}), generated in {time.monotonic() - start:.0f} s")
    environment = cluster.env(database)
    folder = tempfile.mkdtemp(dir=work)
    findings = timed([keyseal, "findings", "--all-repositories", "--format", "json"], dict(environment), runs)
    with open(os.path.join(folder, "checklist.json"), "w") as out:
        checklist = timed([keyseal, "checklist", "--all-repositories", "--format", "json"], dict(environment), runs, output=out)
    checklist_size = os.path.getsize(os.path.join(folder, "checklist.json")) / 1e6
    rebuild = timed([keyseal, "rebuild", "--all-repositories"], dict(environment), runs)
    # The queries alone (what keyseal sends), timed by the server.
    def query_ms(sql):
        out = subprocess.run(["psql", "-h", cluster.socket, "-p", str(cluster.port), "-U", "postgres", "-d", database, "-X", "-q",
                              "-c", "\\timing on", "-c", sql], capture_output=True, text=True, check=True).stdout
        return [line for line in out.splitlines() if line.startswith("Time:")][-1]
    findings_sql = ("SELECT count(*) FROM (SELECT s.fingerprint, coalesce(c.here, 0) FROM keyseal.secrets s LEFT JOIN (SELECT fingerprint, "
                    "sum(occurrences) AS here, count(*) AS repositories FROM keyseal.repository_secrets GROUP BY fingerprint) c "
                    "ON c.fingerprint = s.fingerprint ORDER BY s.first_seen IS NULL, s.first_seen, s.fingerprint) q")
    checklist_sql = ("SELECT count(*) FROM (SELECT r.*, s.rule FROM keyseal.repository_secrets r JOIN keyseal.secrets s "
                     "ON s.fingerprint = r.fingerprint ORDER BY r.fingerprint, r.first_date, r.repository) q")
    print(f"  findings --all-repositories: {findings:.2f} s end to end (query alone {query_ms(findings_sql)}); floor 2 s: "
          f"{'met' if findings < 2 else 'NOT met'}")
    print(f"  checklist --all-repositories: {checklist:.2f} s end to end, {checklist_size:.0f} MB of JSON (query alone "
          f"{query_ms(checklist_sql)}); floor 2 s: {'met' if checklist < 2 else 'NOT met'}")
    print(f"  rebuild --all-repositories (dry run): {rebuild:.2f} s end to end")

    # One real repository's incremental rescan, in this store and in SQLite.
    repo = os.path.join(folder, "requests")
    subprocess.run(["git", "clone", "-q", os.path.join(run.CORPORA, "requests.git"), repo], check=True)
    name = ["--repository", "bench.example/requests"]
    sqlite_store = os.path.join(folder, "store.sqlite")
    lite_env = dict(os.environ)
    lite_env.pop("KEYSEAL_STORE", None)
    for store_args, env in ((name, environment), (["--store", sqlite_store], lite_env)):
        subprocess.run([keyseal, "scan", repo, "--quiet", "--no-audit", "-o", os.devnull] + store_args, env=env)
    rescans = {"postgres": [], "sqlite": []}
    for round_ in range(runs):
        with open(os.path.join(repo, f"bench-{round_}.txt"), "w") as out:
            out.write(f"change {round_}\n")
        subprocess.run(["git", "-C", repo, "add", "-A"], check=True)
        subprocess.run(["git", "-C", repo, "-c", "user.name=bench", "-c", "user.email=bench@example.test", "commit", "-q", "-m",
                        f"bench {round_}"], check=True)
        for key, store_args, env in (("postgres", name, environment), ("sqlite", ["--store", sqlite_store], lite_env)):
            start = time.monotonic()
            result = subprocess.run([keyseal, "scan", repo, "--quiet", "--no-audit", "-o", os.devnull] + store_args, env=env,
                                    capture_output=True, text=True)
            rescans[key].append(time.monotonic() - start)
            if result.returncode not in (0, 1):
                sys.exit(f"rescan exited {result.returncode}: {result.stderr[-800:]}")
    pg, lite = statistics.median(rescans["postgres"]), statistics.median(rescans["sqlite"])
    print(f"  incremental rescan of requests (one new commit) in the 2,000-repository store: {pg:.2f} s, into SQLite {lite:.2f} s; "
          f"{pg - lite:+.2f} s; floor under 1 s beyond SQLite: {'met' if pg - lite < 1 else 'NOT met'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keyseal", help="a keyseal binary (default: a release build of this checkout)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--repositories", type=int, default=2000)
    args = parser.parse_args()
    keyseal = os.path.abspath(run.keyseal_binary(args.keyseal))
    work = os.path.join(tempfile.gettempdir(), "keyseal-bench-shared-store")
    os.makedirs(work, exist_ok=True)
    cluster = Cluster(work)
    try:
        if not args.skip_load:
            load_test(keyseal, cluster, work, args.runs)
        if not args.skip_scale:
            scale(keyseal, cluster, work, args.runs, args.repositories)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()

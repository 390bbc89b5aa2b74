#!/usr/bin/env python3
"""Detection harness: plants secrets and near-misses in a fresh git repository, scans it with keyseal
(and, with --peers, with Kingfisher, gitleaks, Betterleaks and detect-secrets), and reports recall by
format, wrapper, name style, history position and format x wrapper cell, false positives by negative
class, and precision. See README.md beside this file.

    python3 bench/detection/harness.py --keyseal /path/to/keyseal
    python3 bench/detection/harness.py --peers all --out /tmp/detection.json

Every secret is built at run time from templates (seeded, reproducible); none is written in this
repository. Reports never contain a clear secret: cases are named by id, path and line.
"""
import argparse
import base64
import collections
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import formats  # noqa: E402
import providers  # noqa: E402
import templates  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
POSITIONS = ["head", "deleted", "side-branch", "merge", "renamed", "binary", "large"]
# Every placement takes the next slot: about half in HEAD, the rest spread over the other positions.
POSITION_CYCLE = ["head", "deleted", "head", "side-branch", "head", "merge", "head", "renamed", "head", "binary",
                  "head", "large", "head"]
POSDIR = {"head": "svc", "deleted": "retired", "side-branch": "wip", "merge": "integration", "renamed": "stage",
          "binary": "blobs", "large": "bulk"}
STYLES = ["provider", "generic", "neutral"]
FLOOR_OVERALL, FLOOR_CELL, CELL_MIN = 0.95, 0.85, 20
FILE_CHUNK = 25
LARGE_BYTES = 2_200_000
ENV = dict(os.environ, GIT_AUTHOR_NAME="Harness", GIT_AUTHOR_EMAIL="harness@example.test",
           GIT_COMMITTER_NAME="Harness", GIT_COMMITTER_EMAIL="harness@example.test",
           GIT_AUTHOR_DATE="2024-01-01T00:00:00Z", GIT_COMMITTER_DATE="2024-01-01T00:00:00Z")


def git(repo, *args, check=True, **kw):
    return subprocess.run(["git", "-C", repo, *args], check=check, env=ENV, capture_output=True, text=True, **kw)


def write(repo, path, data):
    full = os.path.join(repo, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as handle:
        handle.write(data if isinstance(data, bytes) else data.encode())


# ---------------------------------------------------------------------------------------------------
# keyseal


def keyseal_scan(binary, repo, out):
    cmd = [binary, "scan", repo, "--no-store", "--show-secrets", "--quiet", "--format", "json", "--report", out]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode not in (0, 1):
        sys.exit(f"harness: keyseal scan exited {result.returncode}: {result.stderr.strip()[:500]}")
    with open(out) as handle:
        data = json.load(handle)
    return [{"path": f.get("path"), "line": f.get("line"), "secret": f.get("secret"), "rule": f.get("rule")}
            for f in data.get("findings", [])], data.get("summary", {})


def load_rules(binary):
    result = subprocess.run([binary, "rules", "--format", "json"], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def kind_of(description):
    d = description.lower()
    if "password" in d:
        return "password"
    if any(w in d for w in ("url", "webhook", "connection", "uri", "dsn")):
        return "url"
    if "secret" in d:
        return "secret"
    if "token" in d:
        return "token"
    return "key"


def provider_words(rule):
    words = [w for w in re.split(r"[^a-z0-9]+", rule["provider"].lower()) if w][:2]
    if not words or words[0][0].isdigit():
        words = [rule["id"].split("-")[0]]
    return words


def calibrate(rules, binary, seed, work):
    """Expands every rule's examples, scans each alone, and learns which substring is the secret."""
    repo = os.path.join(work, "calibrate")
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(repo)
    git(repo, "init", "-q", "-b", "main")
    expansions = {}
    for rule in rules:
        for i, template in enumerate(rule.get("examples") or []):
            exp = templates.Expansion(template, templates.rng_for(seed, "example", rule["id"], i))
            expansions[(rule["id"], i)] = exp
            write(repo, f"ex/{rule['id']}/{i}.txt", exp.text if exp.text.endswith("\n") else exp.text + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "examples")
    found, _ = keyseal_scan(binary, repo, os.path.join(work, "calibrate.json"))
    by_path = collections.defaultdict(list)
    for f in found:
        by_path[f["path"]].append(f)
    out = {}
    unresolved = 0
    for (rid, i), exp in expansions.items():
        hits = [f for f in by_path.get(f"ex/{rid}/{i}.txt", []) if f["secret"] and f["secret"] in exp.text]
        hits = list({f["secret"]: f for f in hits}.values())
        hits.sort(key=lambda f: (f["rule"] != rid, -len(f["secret"])))
        if hits:
            start = exp.text.find(hits[0]["secret"])
            span = (start, start + len(hits[0]["secret"]))
        else:
            # keyseal did not find its own example: take the span of random characters.
            unresolved += 1
            idx = [j for j, r in enumerate(exp.random_mask) if r]
            if not idx:
                continue
            span = (idx[0], idx[-1] + 1)
        others = [f["secret"] for f in hits[1:] if f["secret"] != exp.text[span[0]:span[1]]]
        out[(rid, i)] = (exp, span, others)
    return out, unresolved


def self_identifying(rule, exp, span):
    """Whether the secret carries a mark of its own (a literal prefix or structure), so that a scanner
    can attribute it without the name it is assigned to."""
    if exp.literal_run(*span) >= 3:
        return True
    if rule.get("generic") or rule.get("keywords"):
        return False
    secret = exp.text[span[0]:span[1]]
    try:
        pattern = re.compile(rule["regex"], re.IGNORECASE if rule.get("caseless") else 0)
    except re.error:
        return False
    return bool(pattern.search(f'setting_1 = "{secret}"\n') or pattern.search(secret + "\n"))


def core_of(value, mask):
    """The longest run of random characters: what identifies a planted value in a tool's report."""
    best, run_start = (0, 0), None
    for j, r in enumerate(list(mask) + [False]):
        if r and run_start is None:
            run_start = j
        elif not r and run_start is not None:
            if j - run_start > best[1] - best[0]:
                best = (run_start, j)
            run_start = None
    return value[best[0]:best[1]]


# ---------------------------------------------------------------------------------------------------
# cases


class Planner:
    def __init__(self, seed):
        self.seed = seed
        self.cases = []
        # One round-robin pointer per name style (and one for negatives), started a third of the way
        # apart, so that every cell gets every style in about equal shares.
        self.cell_i = {None: 0}
        for j, style in enumerate(STYLES):
            self.cell_i[style] = j * len(formats.CELLS) // len(STYLES)
        self.pos_i = 0
        self.variant = collections.Counter()

    def next_cell(self, value, style=None):
        for _ in range(len(formats.CELLS)):
            cell = formats.CELLS[self.cell_i[style] % len(formats.CELLS)]
            self.cell_i[style] += 1
            if formats.accepts(cell[0], cell[1], value):
                return cell
        return None

    def add(self, **case):
        case["id"] = len(self.cases)
        self.cases.append(case)
        return case

    def place(self, source, label, kind, words, self_ident, make, n_per_style, rule=None, reference=None):
        """Plants `n_per_style` fresh values of one source under each name style."""
        for style in STYLES:
            for rep in range(n_per_style):
                rng = templates.rng_for(self.seed, "place", source, label, style, rep)
                value, mask = make(rng)
                cell = self.next_cell(value, style)
                if cell is None:
                    continue
                position = POSITION_CYCLE[self.pos_i % len(POSITION_CYCLE)]
                self.pos_i += 1
                if style == "provider":
                    name = words
                elif style == "generic":
                    name = rng.choice(providers.GENERIC_NAMES[kind])
                else:
                    name = rng.choice(providers.NEUTRAL_NAMES)
                cls = "floor" if (self_ident or style != "neutral") else "name-dependent-neutral"
                self.variant[cell] += 1
                self.add(polarity="positive", source=source, provider=label, rule=rule, kind=kind, style=style,
                         self_identifying=self_ident, format=cell[0], wrapper=cell[1], position=position,
                         value=value, core=core_of(value, mask), words=name, variant=self.variant[cell],
                         cls=cls, reference=reference)

    def negative(self, cls, words, value, core=None):
        cell = self.next_cell(value)
        if cell is None:
            return
        self.variant[cell] += 1
        self.add(polarity="negative", source="negative", cls=cls, provider=None, rule=None, style=None,
                 format=cell[0], wrapper=cell[1], position="head", value=value, core=core, words=words,
                 variant=self.variant[cell])


def expansion_maker(template):
    def make(rng):
        exp = templates.Expansion(template, rng)
        return exp.text, exp.random_mask
    return make


def rule_maker(exp, span):
    def make(rng):
        text = exp.fresh(rng)
        return text[span[0]:span[1]], exp.random_mask[span[0]:span[1]]
    return make


def jwt_io_example():
    """The HS256 example token that jwt.io shows, computed (header, payload, and its documented key)."""
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(json.dumps({"sub": "1234567890", "name": "John Doe", "iat": 1516239022}, separators=(",", ":")).encode())
    sig = b64(hmac.new(b"your-256-bit-secret", f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def plan_negatives(planner, seed):
    rng = templates.rng_for(seed, "negatives")
    names = [p[1] for p in providers.PROVIDERS[::3]] + [["api", "key"], ["password"], ["secret"], ["token"]]
    for i in range(150):  # plain placeholders: no high-entropy token at all
        words = names[i % len(names)]
        U, c, k = (formats.words_case(words, x) for x in "Uck")
        forms = ["${" + U + "}", "$" + U, "{{ .Values." + c + " }}", "{{ secrets." + U + " }}", "<your-" + k + ">",
                 "<" + U + ">", "x" * 32, "X" * 40, "changeme", "your_api_key_here", "REPLACE_ME", "%(" + c + ")s",
                 "********", "${{ secrets." + U + " }}", "{" + c + "}", "your-token-here", "sk_live_" + "x" * 24,
                 "ghp_" + "X" * 36, "placeholder", "dummy", "TODO", "<%= ENV['" + U + "'] %>", "0" * 32, "AKIA" + "X" * 16]
        planner.negative("placeholder", words, forms[i % len(forms)])
    docs = ["AKIA" + "IOSFODNN7" + "EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY", jwt_io_example(),
            "1234567890abcdef" * 2, "0123456789abcdef0123456789abcdef", "abcdefghijklmnopqrstuvwxyz012345",
            "EXAMPLE" + "KEY" + "1234567890ABCDEF", "your-secret-key-1234567890", "sk_test_" + "EXAMPLE" + "0123456789",
            "AC" + "X" * 32]
    doc_names = [["aws", "access", "key", "id"], ["aws", "secret", "access", "key"], ["jwt"], ["api", "key"],
                 ["secret", "key"], ["token"], ["api", "key"], ["secret", "key"], ["stripe", "key"], ["twilio", "sid"]]
    for rep in range(5):
        for value, words in zip(docs, doc_names):
            planner.negative("doc-example", words, value)

    def hexs(n):
        return "".join(rng.choice("0123456789abcdef") for _ in range(n))

    def digs(n):
        return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(n - 1))

    def b64s(n):
        return "".join(rng.choice(templates.ALPHABETS["b64"]) for _ in range(n))

    def lo(n):
        return "".join(rng.choice(templates.ALPHABETS["lo"]) for _ in range(n))

    for i in range(150):  # identifiers: ids, hashes and names that are not secrets
        u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        ident = [
            (["google", "client", "id"], f"{digs(12)}-{lo(32)}.apps.googleusercontent.com"),
            (["aws", "account", "id"], digs(12)),
            (["role", "arn"], f"arn:aws:iam::{digs(12)}:role/deploy-{lo(6)}"),
            (["s3", "bucket"], f"acme-prod-assets-{lo(8)}"),
            (["tenant", "id"], u), (["user", "id"], u), (["request", "id"], u), (["subscription", "id"], u),
            (["commit"], hexs(40)), (["git", "sha"], hexs(40)), (["sha256"], hexs(64)), (["checksum"], hexs(64)),
            (["integrity"], "sha512-" + b64s(86) + "=="), (["image", "digest"], "sha256:" + hexs(64)),
            (["go", "sum"], "h1:" + b64s(43) + "="), (["client", "id"], hexs(20)),
            (["stripe", "customer"], "cus_" + "".join(rng.choice(templates.ALPHABETS["an"]) for _ in range(14))),
            (["twilio", "account", "sid"], "AC" + hexs(32)), (["slack", "channel"], "C" + lo(10).upper()),
            (["azure", "tenant", "id"], u),
        ][i % 20]
        words, value = ident
        core = value if len(value) >= 12 else None
        planner.negative("identifier", words, value, core=core)


# ---------------------------------------------------------------------------------------------------
# repository


def build_repo(repo, planner, rule_examples, rules_by_id, rng_seed):
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(repo)
    git(repo, "init", "-q", "-b", "main")
    cases = planner.cases
    # Rule examples as written, one file each (positives), and their negative examples.
    for (rid, i), (exp, span, others) in rule_examples.items():
        path = f"rules/{rid}/example-{i}.txt"
        text = exp.text if exp.text.endswith("\n") else exp.text + "\n"
        write(repo, path, text)
        # One example per file: a finding anywhere in it is the example's (some hold a pair, key id and secret).
        start_line, end_line = 1, text.count("\n")
        planner.add(polarity="positive", source="rule-example", provider=rules_by_id[rid]["provider"], rule=rid,
                    kind=None, style="as-written", self_identifying=None, format="rule-example",
                    wrapper="as-written", position="head", value=exp.text[span[0]:span[1]],
                    core=core_of(exp.text[span[0]:span[1]], exp.random_mask[span[0]:span[1]]),
                    cls="floor", paths=[path], span=(start_line, end_line), line=start_line,
                    extra_cores=[o for o in others if len(o) >= 8])
    for rid, rule in rules_by_id.items():
        for i, template in enumerate(rule.get("negative_examples") or []):
            text = templates.expand(template, templates.rng_for(rng_seed, "negative", rid, i))
            path = f"rules/{rid}/negative-{i}.txt"
            write(repo, path, text if text.endswith("\n") else text + "\n")
            planner.add(polarity="negative", source="negative", cls="rule-negative", provider=None, rule=rid,
                        style=None, format="rule-example", wrapper="as-written", position="head", value=text,
                        core=None, paths=[path], span=(1, text.count("\n") + 1), line=1)

    groups = collections.defaultdict(list)
    for case in cases:
        if case.get("paths"):
            continue
        if case["position"] in ("large", "binary"):
            groups[(case["position"], case["format"], None)].append(case)
        else:
            groups[(case["position"], case["format"], case["wrapper"])].append(case)

    files = collections.defaultdict(dict)  # position -> {path: text}
    merge_files = {}
    for (position, fmt, wrapper), members in sorted(groups.items(), key=lambda kv: str(kv[0])):
        chunk = len(members) if position in ("large", "binary") else FILE_CHUNK
        for k in range(0, len(members), chunk):
            part = members[k:k + chunk]
            blocks = [formats.render(c["format"], c["wrapper"], c["words"], c["value"], c["variant"], c["id"])
                      for c in part]
            name = formats.FILENAMES[fmt]
            folder = f"{POSDIR[position]}/{fmt}-{wrapper or 'mixed'}-{k // chunk}"
            if position == "binary":
                path = f"{folder}/" + ["state.db", "cache.bin", "payload.dat"][len(files[position]) % 3]
                rng = templates.rng_for(rng_seed, "binary", path)
                data = bytearray(b"SQLite format 3\x00" + bytes(rng.randrange(256) for _ in range(480)))
                for c, (lines, _) in zip(part, blocks):
                    data += b"\x00" * 7 + b"\x01\x0f" + "\n".join(lines).encode() + b"\x00\x00"
                    data += bytes(rng.choice(b"\x00\x01\x02\x03\x7f\x80\xfe\xff") for _ in range(96))
                    c["paths"], c["span"], c["line"] = [], None, None
                files[position][path] = bytes(data)
                continue
            path = f"{folder}/{name}"
            head_wrapper = wrapper or part[0]["wrapper"]
            notes = ["revision: merged"] if position == "merge" else ()
            text, spans = formats.layout(fmt, head_wrapper, blocks, notes=notes,
                                         filler_bytes=LARGE_BYTES if position == "large" else 0)
            for c, (first, value_line, last) in zip(part, spans):
                c["paths"] = [path]
                c["span"], c["line"] = (first, last), value_line
                if position == "renamed":
                    c["paths"] = [path, "prod/" + path.split("/", 1)[1]]
            if position == "merge":
                merge_files[path] = (fmt, head_wrapper, text)
            else:
                files[position][path] = text

    def commit(message):
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", message)

    # C1: what HEAD keeps, what a later commit deletes, what a later commit renames.
    for position in ("head", "deleted", "renamed"):
        for path, text in files[position].items():
            write(repo, path, text)
    for path, (fmt, wrapper, _) in merge_files.items():
        write(repo, path, formats.layout(fmt, wrapper, [], notes=["revision: base"])[0])
    commit("Add service configuration")
    # C2: delete and rename.
    for path in files["deleted"]:
        git(repo, "rm", "-q", path)
    git(repo, "mv", POSDIR["renamed"], "prod")
    commit("Retire old services; move stage to prod")
    # Side branch, never merged.
    git(repo, "checkout", "-q", "-b", "feature/wip")
    for path, text in files["side-branch"].items():
        write(repo, path, text)
    commit("WIP: new integrations")
    # Two branches that conflict on the merge files; the resolution brings the merge cases.
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "-b", "topic/integration")
    for path, (fmt, wrapper, _) in merge_files.items():
        write(repo, path, formats.layout(fmt, wrapper, [], notes=["revision: topic"])[0])
    commit("Integration: topic revision")
    git(repo, "checkout", "-q", "main")
    for path, (fmt, wrapper, _) in merge_files.items():
        write(repo, path, formats.layout(fmt, wrapper, [], notes=["revision: main"])[0])
    for position in ("binary", "large"):
        for path, text in files[position].items():
            write(repo, path, text)
    commit("Integration: main revision; data files")
    merged = git(repo, "merge", "-q", "--no-edit", "topic/integration", check=False)
    if merged.returncode == 0:
        sys.exit("harness: the merge was expected to conflict")
    for path, (_, _, text) in merge_files.items():
        write(repo, path, text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-edit")


# ---------------------------------------------------------------------------------------------------
# peers


def peer_binaries(wanted):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import run as bench_run  # bench/run.py: installs the peers into bench/.venv
    found = bench_run.peer_binaries([t for t in wanted if t in bench_run.PEERS])
    if "detect-secrets" in wanted:
        venv_bin = os.path.join(bench_run.VENV, "bin")
        if not os.path.exists(os.path.join(venv_bin, "detect-secrets")):
            subprocess.run([os.path.join(venv_bin, "python"), "-m", "pip", "install", "-q", "detect-secrets"], check=True)
        found["detect-secrets"] = os.path.join(venv_bin, "detect-secrets")
    return found


def peer_scan(tool, binary, repo, work):
    out = os.path.join(work, f"{tool}.json")
    if os.path.exists(out):
        os.remove(out)
    if tool == "gitleaks":
        cmd = [binary, "git", repo, "--no-banner", "--report-format", "json", "--report-path", out, "--exit-code", "0"]
    elif tool == "betterleaks":
        cmd = [binary, "git", repo, "--no-banner", "--output", out, "--exit-code", "0"]
    elif tool == "kingfisher":
        cmd = [binary, "scan", repo, "--git-history", "full", "--no-validate", "--format", "json", "-o", out]
    elif tool == "detect-secrets":
        return detect_secrets_scan(binary, repo, work)
    else:
        raise ValueError(tool)
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode not in {"gitleaks": (0,), "betterleaks": (0,), "kingfisher": (0, 200, 205)}[tool]:
        sys.exit(f"harness: {tool} exited {result.returncode}")
    with open(out) as handle:
        data = json.load(handle)
    found = []
    if tool == "gitleaks":
        for f in data:
            found.append({"path": f.get("File"), "line": f.get("StartLine"), "secret": f.get("Secret"), "rule": f.get("RuleID")})
    elif tool == "betterleaks":
        for f in data.get("findings", []) if isinstance(data, dict) else data:
            loc, match = f.get("location", {}), f.get("match", {})
            found.append({"path": loc.get("path"), "line": loc.get("start_line"), "secret": match.get("value"),
                          "rule": f.get("rule_id")})
    elif tool == "kingfisher":
        for f in data.get("findings", []):
            inner = f.get("finding", {})
            found.append({"path": inner.get("path"), "line": inner.get("line"), "secret": inner.get("snippet"),
                          "rule": f.get("rule", {}).get("id")})
    return found


def detect_secrets_scan(binary, repo, work):
    """detect-secrets reads a working tree, not history: it scans a checkout of every branch tip."""
    found = []
    for branch in ("main", "feature/wip", "topic/integration"):
        tree = os.path.join(work, "ds-" + branch.replace("/", "-"))
        shutil.rmtree(tree, ignore_errors=True)
        git(repo, "worktree", "add", "-q", "-f", tree, branch)
        result = subprocess.run([binary, "scan", "--all-files"], cwd=tree, capture_output=True, text=True)
        git(repo, "worktree", "remove", "--force", tree)
        if result.returncode != 0:
            sys.exit(f"harness: detect-secrets exited {result.returncode}")
        for path, items in json.loads(result.stdout).get("results", {}).items():
            for f in items:
                found.append({"path": path, "line": f.get("line_number"), "secret": None,
                              "sha1": f.get("hashed_secret"), "rule": f.get("type")})
    return found


def tool_version(tool, binary):
    cmd = [binary, "version"] if tool == "gitleaks" else [binary, "--version"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else "?"


# ---------------------------------------------------------------------------------------------------
# matching and report


def match(cases, found):
    """Marks which cases each finding hits: same path and a line in the case's span, or the case's value
    (its random core) in the finding's secret, or the finding's secret (8+ characters) inside that core."""
    by_line = collections.defaultdict(list)
    by_core = {}
    by_sha1 = {}
    for c in cases:
        for p in c.get("paths") or []:
            if c.get("span"):
                for ln in range(c["span"][0], c["span"][1] + 1):
                    by_line[(p, ln)].append(c)
        if c.get("core") and len(c["core"]) >= 8:
            by_core[c["core"]] = c
        for extra in c.get("extra_cores") or ():
            by_core[extra] = c
        if c["polarity"] == "positive":
            by_sha1[hashlib.sha1(c["value"].encode()).hexdigest()] = c
    cores = list(by_core.items())
    hit = collections.defaultdict(set)
    finding_class = []
    probe_cache = {}
    for f in found:
        matched = list(by_line.get((f["path"], f["line"]), []))
        secret = f.get("secret")
        if secret:
            if secret not in probe_cache:
                probe = []
                for core, c in cores:
                    if core[:16] in secret or (len(secret) >= 8 and secret in core):
                        probe.append(c)
                probe_cache[secret] = probe
            matched += probe_cache[secret]
        if f.get("sha1") and f["sha1"] in by_sha1:
            matched.append(by_sha1[f["sha1"]])
        for c in matched:
            hit[c["id"]].add(len(finding_class))
        if any(c["polarity"] == "positive" for c in matched):
            finding_class.append("tp")
        elif matched:
            finding_class.append("fp-" + matched[0]["cls"])
        else:
            finding_class.append("stray")
    return hit, finding_class


def summarize(cases, hit, finding_class, found):
    pos = [c for c in cases if c["polarity"] == "positive"]
    floor = [c for c in pos if c["cls"] == "floor"]
    neg = [c for c in cases if c["polarity"] == "negative"]

    def rate(group):
        return (sum(1 for c in group if c["id"] in hit), len(group))

    def by(key, group):
        out = collections.defaultdict(list)
        for c in group:
            out[key(c)].append(c)
        return {k: rate(v) for k, v in sorted(out.items(), key=lambda kv: str(kv[0]))}

    counts = collections.Counter(finding_class)
    tp = counts["tp"]
    summary = {
        "overall": rate(floor),
        "overall_without_examples": rate([c for c in floor if c["source"] != "rule-example"]),
        "name_dependent_neutral": rate([c for c in pos if c["cls"] == "name-dependent-neutral"]),
        "by_source": by(lambda c: c["source"], floor),
        "by_format": by(lambda c: c["format"], floor),
        "by_wrapper": by(lambda c: c["wrapper"], floor),
        "by_style": by(lambda c: c["style"], floor),
        "by_position": by(lambda c: c["position"], floor),
        "by_cell": by(lambda c: f"{c['format']} x {c['wrapper']}", floor),
        "by_self_identifying": by(lambda c: str(c.get("self_identifying")), floor),
        "negatives": by(lambda c: c["cls"], neg),
        "findings": len(found),
        "findings_by_class": dict(counts),
        "precision": tp / len(found) if found else None,
    }
    return summary


def pct(pair):
    hitn, n = pair
    return f"{hitn / n:.2f}" if n else "  - "


def print_table(title, tools, results, key, note=None, mark=None):
    keys = []
    for tool in tools:
        for k in results[tool][key]:
            if k not in keys:
                keys.append(k)
    print(f"\n### {title}\n")
    if note:
        print(note + "\n")
    print("| " + " | ".join(["", "n"] + tools) + " |")
    print("|" + "---|" * (len(tools) + 2))
    for k in keys:
        n = results[tools[0]][key].get(k, (0, 0))[1]
        flag = mark(k, n) if mark else ""
        print(f"| {k}{flag} | {n} | " + " | ".join(pct(results[t][key].get(k, (0, 0))) for t in tools) + " |")


def miss_patterns(cases, hit, limit=12):
    """keyseal's misses grouped four ways: by cell, by provider or rule, by name style x self-identifying,
    by position (outside HEAD)."""
    misses = [c for c in cases if c["polarity"] == "positive" and c["cls"] == "floor" and c["id"] not in hit
              and c["source"] != "rule-example"]
    groups = {
        "cell": collections.Counter(f"{c['format']} x {c['wrapper']}" for c in misses),
        "provider or rule": collections.Counter(f"{c['source']}: {c['rule'] or c['provider']}" for c in misses),
        "style / self-identifying": collections.Counter(f"{c['style']} / {c['self_identifying']}" for c in misses),
        "position": collections.Counter(c["position"] for c in misses),
        "rule example as written": collections.Counter(
            c["rule"] for c in cases if c["source"] == "rule-example" and c["id"] not in hit),
    }
    return {k: v.most_common(limit) for k, v in groups.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keyseal", default="keyseal", help="keyseal binary (default: keyseal on PATH)")
    parser.add_argument("--peers", default="", help="comma list of kingfisher,gitleaks,betterleaks,detect-secrets, or all")
    parser.add_argument("--seed", default="keyseal-detection-1")
    parser.add_argument("--work", default=None, help="folder for the planted repository (default: a temp folder)")
    parser.add_argument("--out", default=None, help="JSON result file (default: $BENCH_WORK/detection-result.json, BENCH_WORK defaulting to /tmp/keyseal-bench)")
    parser.add_argument("--keep", action="store_true", help="keep the planted repository")
    args = parser.parse_args()

    keyseal = shutil.which(args.keyseal) or args.keyseal
    if not os.path.exists(keyseal):
        sys.exit(f"harness: no keyseal binary at {args.keyseal}")
    peers = ["kingfisher", "gitleaks", "betterleaks", "detect-secrets"] if args.peers == "all" else \
        [p for p in args.peers.split(",") if p]
    work = args.work or tempfile.mkdtemp(prefix="keyseal-detection-")
    os.makedirs(work, exist_ok=True)
    started = time.time()

    rules = load_rules(keyseal)
    rules_by_id = {r["id"]: r for r in rules}
    rule_examples, unresolved = calibrate(rules, keyseal, args.seed, work)

    planner = Planner(args.seed)
    # (a) every rule's secret, re-planted across cells: the first example whose secret is one line.
    for rule in rules:
        for i in range(len(rule.get("examples") or [])):
            entry = rule_examples.get((rule["id"], i))
            if not entry:
                continue
            exp, span, _others = entry
            secret = exp.text[span[0]:span[1]]
            if "\n" in secret or any(ch in secret for ch in "\"'\\`\t"):
                continue
            planner.place("rule-secret", rule["provider"], kind_of(rule["description"]), provider_words(rule) +
                          {"key": ["api", "key"]}.get(kind_of(rule["description"]), [kind_of(rule["description"])]), self_identifying(rule, exp, span),
                          rule_maker(exp, span), 1, rule=rule["id"])
            break
    # (b) independently written samples.
    for label, words, kind, template, self_ident, ref in providers.PROVIDERS:
        planner.place("sample", label, kind, words, self_ident, expansion_maker(template), 2, reference=ref)
    for label, words, kind, template, self_ident in providers.CONNECTIONS:
        planner.place("connection", label, kind, words, self_ident, expansion_maker(template), 2)
    plan_negatives(planner, args.seed)

    repo = os.path.join(work, "repo")
    build_repo(repo, planner, rule_examples, rules_by_id, args.seed)
    cases = planner.cases
    built = time.time()

    tools = ["keyseal"] + peers
    binaries = {"keyseal": keyseal}
    if peers:
        binaries.update(peer_binaries(peers))
    results, versions, timings, hits = {}, {}, {}, {}
    for tool in tools:
        versions[tool] = tool_version(tool, binaries[tool])
        t0 = time.time()
        if tool == "keyseal":
            found, ks_summary = keyseal_scan(keyseal, repo, os.path.join(work, "keyseal.json"))
        else:
            found = peer_scan(tool, binaries[tool], repo, work)
        timings[tool] = time.time() - t0
        hit, finding_class = match(cases, found)
        hits[tool] = hit
        results[tool] = summarize(cases, hit, finding_class, found)
        if tool == "keyseal":
            # A specific rule's near-miss negative (`ACME_KEY=` and a random value one character
            # short) caught by a generic rule (a random value under a secret's name) is what the
            # generic rules are for; split those from negatives a specific rule wrongly claims.
            generic_only = 0
            for c in cases:
                if c["polarity"] != "negative" or c["cls"] != "rule-negative" or c["id"] not in hit:
                    continue
                # Not `rules`: that name holds the rule list the header line counts.
                matched = {found[i]["rule"] for i in hit[c["id"]]}
                if matched and all((r or "").startswith("generic-") for r in matched):
                    generic_only += 1
            flagged, total = results[tool]["negatives"].get("rule-negative", (0, 0))
            results[tool]["rule_negatives_by_generic_only"] = (generic_only, total)
            results[tool]["rule_negatives_by_specific_rules"] = (flagged - generic_only, total)
        results[tool]["stray_findings"] = [{"path": f["path"], "line": f["line"], "rule": f["rule"]}
                                           for f, k in zip(found, finding_class) if k == "stray"][:200]

    pos = [c for c in cases if c["polarity"] == "positive"]
    print(f"# Detection harness\n\nseed {args.seed}; repository {repo}; built in {built - started:.0f} s")
    print(f"{len(rules)} rules; {len(rule_examples)} rule examples ({unresolved} not found by keyseal alone, "
          f"their secret taken as the span of random characters); "
          f"{len(providers.PROVIDERS)} independent provider shapes, {len(providers.CONNECTIONS)} connection/password shapes; "
          f"{len(formats.CELLS)} format x wrapper cells.")
    print(f"{len(pos)} positives ({sum(1 for c in pos if c['cls'] == 'floor')} under the floors, "
          f"{sum(1 for c in pos if c['cls'] != 'floor')} name-dependent under a neutral name), "
          f"{len(cases) - len(pos)} negatives.")
    for tool in tools:
        print(f"- {tool}: {versions[tool]} ({timings[tool]:.1f} s)")
    print("\n### Headline\n")
    print("| | " + " | ".join(tools) + " |")
    print("|" + "---|" * (len(tools) + 1))
    print("| recall (floor cases) | " + " | ".join(pct(results[t]["overall"]) for t in tools) + " |")
    print("| recall without the rule examples as written | " +
          " | ".join(pct(results[t]["overall_without_examples"]) for t in tools) + " |")
    print("| recall, name-dependent under neutral name (outside floors) | " +
          " | ".join(pct(results[t]["name_dependent_neutral"]) for t in tools) + " |")
    print("| precision (findings on positives / all findings) | " +
          " | ".join(f"{results[t]['precision']:.3f}" if results[t]["precision"] is not None else "-" for t in tools) + " |")
    print("| findings | " + " | ".join(str(results[t]["findings"]) for t in tools) + " |")
    print("| stray findings (no planted case) | " +
          " | ".join(str(results[t]["findings_by_class"].get("stray", 0)) for t in tools) + " |")
    for title, key in [("Recall by source", "by_source"), ("Recall by format", "by_format"),
                       ("Recall by wrapper", "by_wrapper"), ("Recall by name style", "by_style"),
                       ("Recall by history position", "by_position"),
                       ("Recall by self-identifying format (rule secrets and samples)", "by_self_identifying")]:
        print_table(title, tools, results, key)
    print_table("Recall by format x wrapper cell", tools, results, "by_cell",
                note=f"`*` marks cells with >= {CELL_MIN} cases (floor {FLOOR_CELL} applies); `!` such a cell below it (keyseal).",
                mark=lambda k, n: ("*" + ("!" if (results["keyseal"]["by_cell"][k][0] / n) < FLOOR_CELL else ""))
                if n >= CELL_MIN else "")
    print_table("False positives by negative class (share of negatives flagged)", tools, results, "negatives")

    ks = results["keyseal"]
    if "rule_negatives_by_generic_only" in ks:
        g, n = ks["rule_negatives_by_generic_only"]
        sp, _ = ks["rule_negatives_by_specific_rules"]
        print(f"\nkeyseal's flagged rule negatives: {sp} of {n} by a specific rule, {g} only by a generic rule "
              "(a random near-miss value under a secret's name).")
    over = ks["overall"][0] / ks["overall"][1]
    bad_cells = [k for k, (h, n) in ks["by_cell"].items() if n >= CELL_MIN and h / n < FLOOR_CELL]
    placeholder_fp = ks["negatives"].get("placeholder", (0, 0))[0]
    floors = {"overall_recall": (over, over >= FLOOR_OVERALL), "cells_below": (bad_cells, not bad_cells),
              "placeholder_fp": (placeholder_fp, placeholder_fp == 0)}
    print("\n### Floors (keyseal)\n")
    print(f"- recall >= {FLOOR_OVERALL}: {over:.3f} {'PASS' if floors['overall_recall'][1] else 'FAIL'}")
    print(f"- every cell with >= {CELL_MIN} cases >= {FLOOR_CELL}: "
          f"{'PASS' if not bad_cells else 'FAIL (' + str(len(bad_cells)) + ' cells)'}")
    print(f"- placeholder negatives flagged = 0: {placeholder_fp} {'PASS' if placeholder_fp == 0 else 'FAIL'}")
    print("\nName-dependent values (a bare 32-hex key, a password) under a neutral name cannot be attributed by "
          "any scanner; they are planted but reported apart, outside the floors.")
    print("\n### Largest keyseal miss groups (floor cases other than rule examples as written)")
    patterns = miss_patterns(cases, hits["keyseal"])
    for kind, items in patterns.items():
        print(f"\n{kind}: " + "; ".join(f"{label} {n}" for label, n in items))

    out = args.out or os.path.join(os.environ.get("BENCH_WORK", "/tmp/keyseal-bench"), "detection-result.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    public_cases = [{k: v for k, v in c.items() if k not in ("value", "core", "words", "extra_cores")} |
                    {"name": formats.words_case(c["words"], "U") if c.get("words") else None,
                     "found_by": [t for t in tools if c["id"] in hits[t]]} for c in cases]
    with open(out, "w") as handle:
        json.dump({"seed": args.seed, "versions": versions, "seconds": timings, "results": results,
                   "floors": floors, "keyseal_miss_groups": patterns, "cases": public_cases}, handle, indent=1, default=str)
    print(f"\nresult: {out}; total {time.time() - started:.0f} s")
    if not args.keep and not args.work:
        shutil.rmtree(work, ignore_errors=True)
        print("(planted repository removed; --keep keeps it)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes a small seed corpus for each fuzz target into DIR/<target>/ (made at run time, so no
secret-looking bytes are committed). Usage: seeds.py DIR"""
import base64, gzip, io, json, os, sys, tarfile, urllib.parse, zipfile

out = sys.argv[1]
# Values assembled here, so that no secret-looking literal is in the repository (keyseal scans itself).
word = "".join(chr(c) for c in (115, 101, 97, 108, 56, 50, 57, 49))
token = "ghp_" + "".join("aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zC4"[i % 36] for i in range(36))
text = f"GITHUB_TOKEN={token}\npassword = 'x' + 'y'\n".encode()


def tar_bytes(members, fmt=tarfile.USTAR_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


seeds = {
    "FuzzTar": [tar_bytes([("a.env", text)]), tar_bytes([("d/" + "n" * 150, text)], tarfile.GNU_FORMAT),
                tar_bytes([("p" * 120 + "/x", text), ("b", b"")], tarfile.PAX_FORMAT)],
    "FuzzZip": [zip_bytes([("a.env", text), ("dir/b.txt", b"hello")]),
                zip_bytes([("s.env", text)], zipfile.ZIP_STORED),
                zip_bytes([("in.zip", zip_bytes([("a.env", text)]))])],
    "FuzzGzip": [gzip.compress(text)[3:], gzip.compress(tar_bytes([("a.env", text)]))[3:]],
    "FuzzDecoders": [base64.b64encode(text), urllib.parse.quote(text).encode(),
                     json.dumps(text.decode()).replace("/", "\\/").encode(),
                     b"kind: Secret\ndata:\n  token: " + base64.b64encode(text) + b"\n",
                     b'{"kind": "Secret", "data": {"t": "' + base64.b64encode(text) + b'"}}',
                     b"INSERT INTO `t` (id, api_token) VALUES (1, 'a''b'), (2, \"c\\\"d\");\n"
                     b"UPDATE s\n SET value = 'x' WHERE name = 'API_TOKEN';\n"],
    "FuzzMatcher": [text, b"\x00binary" + text, zip_bytes([("a.env", text)]), tar_bytes([("a", text)]),
                    b"kind: Secret\ndata:\n  t: " + base64.b64encode(text) + b"\n",
                    b"x=" + urllib.parse.quote(text).encode(), b"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n",
                    b"define('APP_TOKEN', 'x');\n<add key=\"ApiKey\" value=\"y\" />\n- name: SVC_TOKEN\n  value: z\n"
                    b"INSERT INTO t (a, api_token) VALUES (1, 'v');\n"],
    "FuzzDockerfile": [b"# escape=`\nFROM alpine\nENV A=1 \\\n  B=2\nRUN <<EOF\necho hi\nEOF\nARG PASSWORD=x\nCOPY . /app\n",
                       b"FROM x\nRUN a \\\n# c\n  b\nENV TOKEN " + token.encode() + b"\n"],
    "FuzzCompose": [b"services:\n  web:\n    environment:\n      - PASSWORD=" + word.encode() + b"\n      API_KEY: 'x'\n"],
    "FuzzKubernetes": [b"apiVersion: v1\nkind: Secret\ndata:\n  k: " + base64.b64encode(text) + b"\nstringData:\n  p: x\n---\nkind: Secret\n"],
    "FuzzConfig": [b'max_blob_size = "10M"\ndisabled_rules = ["x"]\n[allowlist]\npaths = ["a/**"]\nregexes = ["^x$"]\n'
                   b'[[rules]]\nid = "c"\nregex = "acme_([a-z0-9]{32})"\nkeywords = ["acme"]\npositives = ["k = acme_\xe2\x9f\xaalo:32\xe2\x9f\xab"]\n'],
    "FuzzBaseline": [json.dumps({"version": 1, "secrets": [{"fingerprint": "ab" * 32, "rule": "r", "provider": "p",
                                                           "status": "accepted", "note": "n"}]}).encode()],
    "FuzzHookInput": [("0" * 40 + " " + "1" * 40 + " refs/heads/main\n").encode(),
                      b"git@github.com:team/app.git", b"https://u:p@Host.example.test:8443/a/b.git/?x#y",
                      b"keyseal.bypass=INC-1\nother\n"],
}
# Container images: a docker save tarball (legacy layout: manifest.json, config, layer.tar with a
# whiteout) and an OCI layout tar with a gzip layer and a nested index; and bare layers.
import hashlib
def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()
layer_one = tar_bytes([("app/a.env", text), ("app/b.txt", b"hello")])
layer_two = tar_bytes([("app/.wh.a.env", b""), ("app/.wh..wh..opq", b"")])
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Env": ["TOKEN=" + token]},
                     "rootfs": {"type": "layers", "diff_ids": [sha(layer_one), sha(layer_two)]},
                     "history": [{"created_by": "RUN |1 NPM_TOKEN=" + token + " /bin/sh -c x"}, {"created_by": "COPY . /"}]}).encode()
legacy = tar_bytes([("l1/layer.tar", layer_one), ("l2/layer.tar", layer_two), ("c.json", config),
                    ("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["a:1"], "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode())])
gz = gzip.compress(layer_one)
manifest = json.dumps({"schemaVersion": 2, "config": {"digest": sha(config), "size": len(config)},
                       "layers": [{"digest": sha(gz), "size": len(gz), "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}]}).encode()
inner = json.dumps({"manifests": [{"digest": sha(manifest), "size": len(manifest), "platform": {"os": "linux", "architecture": "arm64"}}]}).encode()
oci = tar_bytes([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                 ("index.json", json.dumps({"manifests": [{"digest": sha(inner), "size": len(inner)}]}).encode())]
                + [("blobs/sha256/" + sha(b)[7:], b) for b in (config, gz, manifest, inner)], tarfile.PAX_FORMAT)
seeds["FuzzImage"] = [legacy, oci, gz, layer_one]

# A real pack index, from a throwaway repository.
import glob, subprocess, tempfile
with tempfile.TemporaryDirectory() as repo:
    subprocess.run(["git", "init", "-q", repo], check=True)
    with open(os.path.join(repo, "a.txt"), "w") as f:
        f.write("hello\n")
    git = ["git", "-C", repo, "-c", "user.name=f", "-c", "user.email=f@example.test"]
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "a"], check=True)
    subprocess.run(git + ["gc", "-q"], check=True)
    seeds["FuzzPackIndex"] = [open(p, "rb").read() for p in glob.glob(os.path.join(repo, ".git/objects/pack/*.idx"))]
    # Revisions of one file, repacked so the pack holds deltas (the delta reader's input).
    for n in range(6):
        with open(os.path.join(repo, "a.txt"), "w") as f:
            f.write("line\n" * 40 + "v%d\n" % n + text.decode() + "line\n" * n)
        subprocess.run(git + ["commit", "-q", "-am", str(n)], check=True)
    subprocess.run(git + ["repack", "-adfq"], check=True)
    seeds["FuzzPackDelta"] = [open(p, "rb").read()[:65536] for p in glob.glob(os.path.join(repo, ".git/objects/pack/*.pack"))]

# Delta scans: a base of two lines, then copies (even op byte: offset in the next two bytes) and
# inserts (odd op byte: its upper bits count the inserted bytes that follow).
base = text + b"\nname = value\n"
seeds["FuzzDeltaScan"] = [len(base + b"xx").to_bytes(2, "big") + base + bytes([0x20, 0, 0, 0x0b]) + b"TOKEN" + bytes([0x40, 0, 8]),
                          len(base + b"xx").to_bytes(2, "big") + base + bytes([0x11]) + b"password = " + bytes([0xfe, 0, 0])]

# Raw trees separated by FF FE; tree k's id is k and 19 zero bytes.
def tree_id(k):
    return bytes([k]) + bytes(19)
leaf = b"100644 b\0" + bytes(range(20)) + b"100755 c.sh\0" + bytes(range(1, 21))
seeds["FuzzTreeDiff"] = [b"40000 a\0" + tree_id(1) + b"100644 b\0" + bytes(20) + b"\xff\xfe" + leaf,
                         b"100644 a\0" + bytes(20) + b"40000 a\0" + tree_id(0) + b"160000 m\0" + bytes(20) + b"\xff\xfe" + b"40000 a\0" + tree_id(1),
                         # A submodule link, then a file of the same id at the same path: the file is new.
                         b"160000 s\0" + bytes(range(7, 27)) + b"\xff\xfe" + b"100644 s\0" + bytes(range(7, 27))]

# Commit headers: canonical, a merge, extra author lines.
hexid = "0123456789abcdef" * 2 + "01234567"
seeds["FuzzCommitHeader"] = [f"tree {hexid}\nauthor A <a@example.test> 1 +0000\ncommitter C <c@example.test> 1700000000 +0100\n\nm\n".encode(),
                             f"tree {hexid}\nparent {hexid}\nparent {hexid}\nauthor A <a> 1 +0000\nauthor B <b> 2 +0000\ncommitter C <c> 5 -0700\n".encode()]

for target, items in seeds.items():
    os.makedirs(os.path.join(out, target), exist_ok=True)
    for i, data in enumerate(items):
        with open(os.path.join(out, target, f"seed-{i}"), "wb") as f:
            f.write(data)

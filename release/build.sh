#!/usr/bin/env bash
# Builds a self-contained release: dist/keyseal-VERSION-linux-ARCH.tar.gz, whose one binary links
# libgit2 (with its TLS, SSH and HTTP-parser libraries), Vectorscan, PCRE2, SQLite, zlib, zstd, libdeflate, libstdc++
# and the Swift runtime statically, and needs only the C library at run time.
#   release/build.sh [OUTPUT_DIR]     (default: dist)
# Needs the -dev packages install.sh installs (they ship the static archives) and Swift 6.
# Sending rebuild webhooks loads libcurl at run time when it is there; nothing else needs it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}

version=$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' Sources/KeysealCore/Support/KeysealVersion.swift)
arch=$(uname -m)
name="keyseal-$version-linux-$arch"

binary=$(release/static-build.sh --portable)
needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/bin" "$stage/$name/share/doc/keyseal"
install -m 0755 "$binary" "$stage/$name/bin/keyseal"
strip "$stage/$name/bin/keyseal"
cp README.md "$stage/$name/share/doc/keyseal/"
cp -r docs/ci "$stage/$name/share/doc/keyseal/ci"
mkdir -p "$out"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "release/build.sh: $out/$name.tar.gz"
echo "needs: $(echo $needed)"

#!/usr/bin/env bash
# Builds a self-contained release: dist/keyseal-VERSION-linux-ARCH.tar.gz, whose one binary links
# libgit2 (with its TLS, SSH and HTTP-parser libraries), Vectorscan, PCRE2, SQLite, zlib, libstdc++
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

# Link against static archives only: a folder holding nothing but the .a files, searched before the
# system folders, so every -lNAME resolves to the archive even where a .so sits beside it.
static=$(mktemp -d)
trap 'rm -rf "$static"' EXIT
libdir=$(pkg-config --variable=libdir libgit2)
extra=()
# The libraries the C dependencies need in a static link, from their own pkg-config files. Those
# that are part of the C library itself (libm, libdl, librt, libpthread) stay dynamic.
for flag in $(pkg-config --static --libs libgit2 libssh2 libhs libpcre2-8 sqlite3 zlib); do
  case "$flag" in
    -l*) lib=${flag#-l} ;;
    *) continue ;;
  esac
  case "$lib" in m|dl|rt|pthread|c) continue ;; esac
  [ -e "$static/lib$lib.a" ] && continue
  if [ ! -e "$libdir/lib$lib.a" ]; then
    echo "release/build.sh: no static library lib$lib.a in $libdir (install its -dev package)" >&2
    exit 2
  fi
  ln -s "$libdir/lib$lib.a" "$static/lib$lib.a"
  extra+=(-Xlinker "-l$lib")
done
# Vectorscan is C++: its runtime too.
ln -s "$(g++ -print-file-name=libstdc++.a)" "$static/libstdc++.a"

# lld: archive order does not matter to it, so the dependency list above needs no ordering.
swift build -c release --product keyseal --static-swift-stdlib --scratch-path .build-release \
  -Xswiftc -use-ld=lld -Xlinker -L"$static" "${extra[@]}" -Xlinker -lstdc++ -Xswiftc -Xclang-linker -Xswiftc -static-libgcc
binary="$(swift build -c release --product keyseal --scratch-path .build-release --show-bin-path)/keyseal"

# The promise, checked: nothing but the C library (libc, libm and the loader) is needed.
needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for lib in $needed; do
  case "$lib" in
    libc.so.*|libm.so.*|ld-linux*|libdl.so.*|libpthread.so.*|librt.so.*) ;;
    *) echo "release/build.sh: the binary still needs $lib" >&2; exit 1 ;;
  esac
done

stage=$(mktemp -d)
trap 'rm -rf "$static" "$stage"' EXIT
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

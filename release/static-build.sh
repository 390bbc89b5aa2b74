#!/usr/bin/env bash
# Builds keyseal linked statically against libgit2 (with its TLS, SSH and HTTP-parser libraries),
# Vectorscan, PCRE2, SQLite, zlib, zstd, libdeflate, libstdc++ and the Swift runtime, so that it needs
# only the C library at run time, and prints the binary's path (the only line on stdout).
#   release/static-build.sh [--portable]
# --portable (release/build.sh): a binary for other machines, so no link option that needs a newer
# C library than the oldest it should run on (packed relocations need glibc 2.36).
# Used by release/build.sh (the release tarball) and install.sh (a hook then starts without the
# dynamic loader resolving a dozen libraries: a warm `keyseal staged` 19.8 against 25.2 ms).
# Needs the -dev packages install.sh installs (they ship the static archives) and Swift 6.
set -euo pipefail
cd "$(dirname "$0")/.."
portable=0
[ "${1:-}" = --portable ] && portable=1

# Packed relative relocations (DT_RELR) save the loader 120k relocations at every start, but a
# binary with them runs only where glibc is 2.36 or newer: only for this machine (install.sh), and
# only when its glibc has them.
relr=()
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
if [ "$portable" -eq 0 ] && [ -n "$glibc" ] && [ "$(printf '%s\n2.36\n' "$glibc" | sort -V | head -1)" = 2.36 ]; then
  relr=(-Xlinker -z -Xlinker pack-relative-relocs)
fi

# Link against static archives only. SwiftPM takes the link flags from pkg-config, and the system's
# files name the folder where each .so sits beside its .a; so give it .pc files of our own whose
# libraries live in a folder holding nothing but the archives, with every dependency a static link
# needs (from the libraries' own `pkg-config --static`). The C library's parts stay dynamic.
static=$(mktemp -d)
trap 'rm -rf "$static"' EXIT
mkdir -p "$static/lib" "$static/pkgconfig"
libdir=$(pkg-config --variable=libdir libgit2)
for module in libgit2 libhs libpcre2-8 sqlite3 zlib libzstd libdeflate; do
  libs=()
  for flag in $(pkg-config --static --libs "$module" $([ "$module" = libgit2 ] && echo libssh2)); do
    case "$flag" in -l*) lib=${flag#-l} ;; *) continue ;; esac
    case "$lib" in m|dl|rt|pthread|c) libs+=("$flag"); continue ;; esac
    if [ ! -e "$static/lib/lib$lib.a" ]; then
      [ -e "$libdir/lib$lib.a" ] || { echo "release/static-build.sh: no static library lib$lib.a in $libdir (install its -dev package)" >&2; exit 2; }
      ln -s "$libdir/lib$lib.a" "$static/lib/lib$lib.a"
    fi
    libs+=("$flag")
  done
  # Vectorscan is C++: its runtime too.
  [ "$module" = libhs ] && libs+=(-lstdc++)
  # libgit2's Kerberos calls, unreachable in keyseal (release/gssapi-unused.c says why).
  [ "$module" = libgit2 ] && libs+=(-lkeyseal_gssapi_unused)
  printf 'Name: %s\nDescription: static link for the keyseal release\nVersion: %s\nCflags: %s\nLibs: -L%s %s\n' \
    "$module" "$(pkg-config --modversion "$module")" "$(pkg-config --cflags "$module")" "$static/lib" "${libs[*]}" \
    > "$static/pkgconfig/$module.pc"
done
ln -s "$(g++ -print-file-name=libstdc++.a)" "$static/lib/libstdc++.a"
gcc -O2 -fPIC -c release/gssapi-unused.c -o "$static/gssapi-unused.o"
gcc -O2 -fPIC $(pkg-config --cflags libgit2) -c release/tls-unused.c -o "$static/tls-unused.o"
ar rcs "$static/lib/libkeyseal_gssapi_unused.a" "$static/gssapi-unused.o" "$static/tls-unused.o"

# lld: archive order does not matter to it, so the dependency lists need no ordering.
PKG_CONFIG_PATH="$static/pkgconfig" PKG_CONFIG_LIBDIR="$static/pkgconfig" \
  swift build -c release --product keyseal --static-swift-stdlib --scratch-path .build-release \
  -Xswiftc -use-ld=lld -Xswiftc -Xclang-linker -Xswiftc -static-libgcc \
  `# libgit2 does not start TLS (release/tls-unused.c says why).` \
  -Xlinker --wrap=git_mbedtls_stream_global_init -Xlinker --wrap=git_mbedtls_stream_new \
  -Xlinker --wrap=git_mbedtls_stream_wrap -Xlinker --wrap=git_mbedtls__set_cert_location \
  "${relr[@]}" >&2
binary="$(swift build -c release --product keyseal --scratch-path .build-release --show-bin-path)/keyseal"

# The promise, checked: nothing but the C library (libc, libm and the loader) is needed.
needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for lib in $needed; do
  case "$lib" in
    libc.so.*|libm.so.*|ld-linux*|libdl.so.*|libpthread.so.*|librt.so.*) ;;
    *) echo "release/static-build.sh: the binary still needs $lib" >&2; exit 1 ;;
  esac
done

# And it starts here (install.sh falls back to other builds when it does not).
"$binary" --version >/dev/null || { echo "release/static-build.sh: the binary does not start" >&2; exit 1; }

echo "$binary"

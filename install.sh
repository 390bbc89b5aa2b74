#!/usr/bin/env bash
# Installs keyseal's system libraries, builds a release binary and installs it.
#   ./install.sh              libraries, release build, install to ${PREFIX:-/usr/local}/bin/keyseal
#   ./install.sh --deps-only  libraries (and what the tests use: git, jsonschema, chromium, pre-commit) only
# Safe to run again: it installs only what is missing.
set -euo pipefail

deps_only=0
for arg in "$@"; do
  case "$arg" in
    --deps-only) deps_only=1 ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option '$arg' (try --deps-only or --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")"

# Build: libgit2 (git access), Vectorscan (multi-pattern matching), PCRE2 (capture groups),
# SQLite (the findings store), zlib and zstd (compressed image layers), libdeflate (a history
# scan's pack deltas, inflated faster than zlib does), pkg-config (how SwiftPM
# finds them). Tests: git, and jsonschema to
# validate SARIF output.
# libcurl4-openssl-dev: curl.h for the rebuild webhook sender, which loads libcurl at run time.
# libpq-dev: libpq-fe.h for the PostgreSQL store, which loads libpq (libpq5, its dependency) at run time.
packages=(libgit2-dev libvectorscan-dev libpcre2-dev libsqlite3-dev zlib1g-dev libzstd-dev libdeflate-dev libcurl4-openssl-dev libpq-dev pkg-config git)
# Tests only: headless Chromium renders the HTML checklist to check it in a real browser (no
# console error, a visible bar per secret). Large, so not for a plain install.
if [ "$deps_only" -eq 1 ]; then packages+=(chromium); fi
# Tests only: a real registry on loopback for `keyseal image REGISTRY/NAME:TAG` (the CNCF
# distribution server), htpasswd for its basic auth, openssl and curl for its token service and
# the test's own uploads; umoci makes an image with a tool other than keyseal's own test writer.
if [ "$deps_only" -eq 1 ]; then packages+=(docker-registry apache2-utils openssl curl umoci); fi
# Tests only: a real PostgreSQL server for the shared store's tests (each run makes a throwaway
# cluster with initdb and pg_ctl; the package's own cluster is not used), and psql to set it up.
if [ "$deps_only" -eq 1 ]; then packages+=(postgresql postgresql-client); fi
# The binary links libgit2's own dependencies statically (release/static-build.sh, which the release
# build CI checks also uses): their archives come with libgit2-dev's dependencies, but for libssh2's
# OpenSSL and libgpg-error, named here. binutils: readelf, strip and ar, which that build uses.
# Without them (and no root to install them) a plain install still builds, less statically.
static_packages=(libssl-dev libgpg-error-dev binutils)
if [ "$deps_only" -eq 1 ]; then packages+=("${static_packages[@]}"); fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ! python3 -c 'import jsonschema' 2>/dev/null && ! /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
  missing+=(python3-jsonschema)
fi
can_install=0
{ [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; } && can_install=1
if [ "$deps_only" -eq 0 ]; then
  for package in "${static_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      if [ "$can_install" -eq 1 ]; then
        missing+=("$package")
      else
        echo "install.sh: $package is missing (no root to install it): building with only the Swift runtime linked in" >&2
      fi
    fi
  done
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=sudo
    else
      echo "install.sh: these packages are missing and installing them needs root: ${missing[*]}" >&2
      echo "  run: apt-get install -y ${missing[*]}   (as root), then ./install.sh again" >&2
      exit 1
    fi
  else
    sudo=
  fi
  echo "install.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$deps_only" -eq 1 ]; then
  # Tests only: the pre-commit framework (3.2 or later, for its stage names), to run keyseal's hooks
  # through the real tool. Best effort: without it (no PyPI), those tests are skipped, not failed.
  if ! command -v pre-commit >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check 'pre-commit>=3.2' >/dev/null 2>&1 \
      || echo "install.sh: pre-commit not installed (the tests through the real tool will be skipped)" >&2
    command -v pyenv >/dev/null 2>&1 && pyenv rehash 2>/dev/null
  fi
  # Tests only: zsh and fish, to syntax-check the completion scripts `keyseal completions` prints
  # (bash is always there). Best effort: without them, those two checks are skipped.
  shells=()
  for shell in zsh fish; do command -v "$shell" >/dev/null 2>&1 || shells+=("$shell"); done
  if [ ${#shells[@]} -gt 0 ]; then
    as_root=
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && as_root=sudo
    if [ "$(id -u)" -eq 0 ] || [ -n "$as_root" ]; then
      { DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends "${shells[@]}" >/dev/null 2>&1 \
          || { $as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends "${shells[@]}" >/dev/null 2>&1; }; } \
        || echo "install.sh: ${shells[*]} not installed (their completion-script checks will be skipped)" >&2
    fi
  fi
  exit 0
fi

command -v swift >/dev/null 2>&1 || { echo "install.sh: swift is not on the PATH (keyseal needs Swift 6)" >&2; exit 1; }
# Everything but the C library linked in (release/static-build.sh): a hook starts without the
# dynamic loader resolving a dozen libraries (a warm `keyseal staged` 19.8 ms against 25.2 with only
# the Swift runtime linked in, and 36 with nothing). Falls back to the Swift runtime alone, then to
# the ordinary build.
if binary=$(release/static-build.sh); then
  :
elif swift build -c release --product keyseal --static-swift-stdlib; then
  binary="$(swift build -c release --show-bin-path)/keyseal"
else
  swift build -c release --product keyseal
  binary="$(swift build -c release --show-bin-path)/keyseal"
fi
prefix="${PREFIX:-/usr/local}"
# Only the copy into a folder the user cannot write needs root: use sudo for that step alone.
as_root=
if ! mkdir -p "$prefix/bin" 2>/dev/null || [ ! -w "$prefix/bin" ]; then
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    as_root=sudo
    $as_root mkdir -p "$prefix/bin"
  else
    echo "install.sh: cannot write $prefix/bin; run as root, or choose a folder of yours: PREFIX=\$HOME/.local ./install.sh" >&2
    exit 1
  fi
fi
$as_root install -m 0755 "$binary" "$prefix/bin/keyseal"
echo "install.sh: installed $prefix/bin/keyseal ($("$prefix/bin/keyseal" --version))"
# Compile the rules now, so the first commit hook does not wait for it. The cache is per user: under
# `sudo ./install.sh` it is filled for the user who ran sudo, whose hooks will use it.
if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  sudo -u "$SUDO_USER" -H "$prefix/bin/keyseal" rules --compile || true
else
  "$prefix/bin/keyseal" rules --compile || true
fi

#!/usr/bin/env bash
# Proves a release tarball is self-contained: unpacks it into an empty root filesystem that holds
# only the C library (the files its binary's NEEDED entries name, and the loader), chroots there,
# and scans a repository with a secret in it. Run as root (chroot).
#   release/check.sh dist/keyseal-VERSION-linux-ARCH.tar.gz
set -euo pipefail
tarball=${1:?usage: release/check.sh TARBALL}
[ "$(id -u)" -eq 0 ] || { echo "release/check.sh: needs root (chroot)" >&2; exit 2; }
root=$(mktemp -d)
mkdir -p "$root/opt/keyseal" "$root/tmp" "$root/dev" "$root/proc"
# The Swift runtime reads its arguments from /proc/self/cmdline, as every Linux system has it.
mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null; rm -rf "$root"' EXIT
tar -xzf "$tarball" --strip-components=1 -C "$root/opt/keyseal"
binary="$root/opt/keyseal/bin/keyseal"

echo "ldd of the release binary:"
ldd "$binary" | sed 's/^/  /'
# The C library and nothing else: copy exactly what the loader resolves, to the same paths.
for lib in $(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
: > "$root/dev/null"; chmod 666 "$root/dev/null"

# A repository with a secret, made outside (git is not in the root), scanned inside. The token is
# put together here from pieces, so no token-shaped string is committed.
repo="$root/repo"
git init -q "$repo"
git -C "$repo" -c user.name=release -c user.email=release@example.test commit -q --allow-empty -m start
secret="sk_""live_$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')"
printf 'STRIPE_KEY=%s\n' "$secret" > "$repo/prod.env"
git -C "$repo" add prod.env
git -C "$repo" -c user.name=release -c user.email=release@example.test commit -q -m "add config"

chroot=$(command -v chroot)
run() { env -i HOME=/tmp XDG_CACHE_HOME=/tmp "$chroot" "$root" /opt/keyseal/bin/keyseal "$@"; }
run --version
status=0
run scan --no-store --format json -o /tmp/report.json /repo || status=$?
if [ "$status" -ne 1 ]; then
  echo "release/check.sh: expected exit 1 (a secret found) inside the bare root, got $status" >&2
  exit 1
fi
grep -q '"rule" : "stripe-secret-key"\|"rule":"stripe-secret-key"' "$root/tmp/report.json" \
  || { echo "release/check.sh: the report does not name the Stripe key" >&2; exit 1; }
if grep -q "$secret" "$root/tmp/report.json"; then
  echo "release/check.sh: the report holds the clear secret" >&2
  exit 1
fi
echo "release/check.sh: the release binary scans in a root with only the C library ($(find "$root" -path "$root/proc" -prune -o -name "*.so*" -type f -print | wc -l) shared libraries there): ok"

#!/usr/bin/env bash
# The base image of the service and kernel images, assembled from local files for machines that reach no
# image registry (`docker import`): this machine's Bun (the version package.json pins) and the glibc files
# `ldd` names, busybox for a shell and wget, the CA bundle, and a user `beacon` (uid 1000).
# Where a registry is reachable the Dockerfiles use oven/bun and debian images instead.
#   bash distro/images/base/build.sh [tag]        # default beacon-base:bun-<version>
set -euo pipefail
cd "$(dirname "$0")/../../.."
VERSION=$(bun --version)
TAG=${1:-beacon-base:bun-$VERSION}
BUSYBOX=$(command -v busybox || true)
[[ -n "$BUSYBOX" ]] || { echo "busybox-static is required (apt-get install busybox-static)" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,usr/local/bin,tmp,etc/ssl/certs,proc,sys,dev,run,root,home/beacon}
chmod 1777 "$root/tmp"
BUN=$(readlink -f "$(command -v bun)")
cp "$BUN" "$root/usr/local/bin/bun"
ln -s bun "$root/usr/local/bin/bunx"
# Bun is dynamically linked against glibc: the same files at the same paths.
ldd "$BUN" | grep -oE '/[^ ]+' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp "$BUSYBOX" "$root/bin/busybox"
for applet in sh ash cat chown chmod cp echo env grep id kill ls mkdir mv nc rm sed sleep stat tail tr wget; do
  ln -s busybox "$root/bin/$applet"
done
[[ -f /etc/ssl/certs/ca-certificates.crt ]] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/bin/sh\nbeacon:x:1000:1000:beacon:/home/beacon:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nbeacon:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
chown 1000:1000 "$root/home/beacon"

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'LABEL beacon.assembled=true' \
  - "$TAG" >/dev/null
echo "$TAG"

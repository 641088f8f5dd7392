#!/usr/bin/env bash
# Builds the kernel image (beacon-kernel:latest) from local files only, for machines without a registry:
# the kernel compiled with `bun build --compile`, the glibc files `ldd` names, and busybox for a shell.
# The Dockerfile beside this script builds the same image where a registry is reachable.
set -euo pipefail
TAG=${1:-beacon-kernel:latest}
cd "$(dirname "$0")/../../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bun build --compile --minify packages/kernel/src/main.ts --outfile "$out/beacon-kernel" >/dev/null

root="$out/rootfs"
mkdir -p "$root"/{bin,tmp,etc,proc,sys,dev,run}
cp "$out/beacon-kernel" "$root/bin/beacon-kernel"
# The compiled binary is dynamically linked against glibc: copy what it needs, at the same paths.
ldd "$out/beacon-kernel" | grep -oE '/[^ ]+' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
if command -v busybox >/dev/null; then
  cp "$(command -v busybox)" "$root/bin/busybox"
  for applet in sh cat ls env sleep; do ln -sf busybox "$root/bin/$applet"; done
fi
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
mkdir -p "$root/root"

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/bin' \
  --change 'EXPOSE 7681' \
  --change 'CMD ["/bin/beacon-kernel"]' \
  - "$TAG" >/dev/null
echo "$TAG"

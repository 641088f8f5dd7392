#!/usr/bin/env bash
# Builds beacon-test:latest from local files only (no registry is reachable here): a busybox-static
# rootfs imported with `docker import`. It serves GET :7681/health with busybox httpd, which is what
# the platform's default health check asks for, and has a shell for busy loops in tests.
set -euo pipefail
TAG=${1:-beacon-test:latest}
BUSYBOX=$(command -v busybox || true)
[[ -n "$BUSYBOX" ]] || { echo "busybox-static is required (apt-get install busybox-static)" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,www,tmp,proc,sys,dev,etc,run}
cp "$BUSYBOX" "$root/bin/busybox"
for applet in sh ash sleep cat echo httpd yes head dd ls env true mkdir rm wc sed grep nc stat tr tail kill id; do
  ln -s busybox "$root/bin/$applet"
done
echo ok > "$root/www/health"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/bin' \
  --change 'EXPOSE 7681' \
  --change 'CMD ["/bin/httpd", "-f", "-p", "7681", "-h", "/www"]' \
  - "$TAG" >/dev/null
echo "$TAG"

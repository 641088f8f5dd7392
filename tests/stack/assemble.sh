#!/usr/bin/env bash
# TEST SUPPORT — an image from a Debian package's binary, for the compose test on a machine without a
# registry: the binary (and the glibc files `ldd` names), busybox for the health checks' wget, tagged with
# the name compose pins. It is not the upstream image; it runs the same program with the same arguments.
#   assemble.sh <tag> <binary> <name> <data-dir> <user-uid> [copy:<host path>|link:<path>=<target>]…
set -euo pipefail
TAG=$1 BINARY=$2 NAME=$3 DATA=$4 USER_ID=$5
shift 5
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,tmp,etc,proc,sys,dev,run} "$root$DATA"
chmod 1777 "$root/tmp"
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in sh wget cat ls; do ln -s busybox "$root/bin/$applet"; done
cp -L "$BINARY" "$root/bin/$NAME"
ldd "$BINARY" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# What the Debian build expects where the upstream image has it elsewhere (templates, default paths).
for extra in "$@"; do
  case $extra in
    copy:*) path=${extra#copy:}; mkdir -p "$root$(dirname "$path")"; cp -a "$path" "$root$path" ;;
    link:*) spec=${extra#link:}; mkdir -p "$root$(dirname "${spec%%=*}")"; ln -s "${spec#*=}" "$root${spec%%=*}" ;;
  esac
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
chown -R "$USER_ID:$USER_ID" "$root$DATA"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/bin' \
  --change "ENTRYPOINT [\"/bin/$NAME\"]" \
  --change "WORKDIR $DATA" \
  --change "USER $USER_ID" \
  --change 'LABEL beacon.test-image=true' \
  - "$TAG" >/dev/null
echo "$TAG"

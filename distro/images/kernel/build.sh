#!/usr/bin/env bash
# Builds a kernel image from local files only, for machines without a registry:
#   bash distro/images/kernel/build.sh [IMAGE] [builtin|codex|claude]     # beacon-kernel:latest, builtin
# The kernel compiled with `bun build --compile`, the glibc files `ldd` names, busybox for the usual commands,
# and for `codex` / `claude` that agent's CLI (with bash, which both run their shell tool with) and
# BEACON_AGENT set. The CLIs are the native binaries their pinned npm packages ship, fetched once from the npm
# registry into a cache (BEACON_CACHE_DIR, ~200 MB each) and never at run time. The image runs as 1000:1000
# in /workspace, where an agent keeps its sessions. The Dockerfile beside this script builds the builtin image
# where a registry is reachable.
set -euo pipefail
TAG=${1:-beacon-kernel:latest}
AGENT=${2:-builtin}
# The versions tests/clients pins (a test keeps them equal).
CODEX_PACKAGE=@openai/codex@0.171.0-linux-x64
CLAUDE_PACKAGE=@anthropic-ai/claude-code-linux-x64@2.1.337
case "$AGENT" in
  builtin|codex|claude) ;;
  *) echo "unknown agent '$AGENT': builtin, codex or claude" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/../../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
root="$out/rootfs"
mkdir -p "$root"/{bin,tmp,etc,proc,sys,dev,run,workspace}

# A binary and the shared libraries ldd names, at the same paths.
add() {
  cp "$1" "$root/bin/$(basename "${2:-$1}")"
  ldd "$1" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# An npm package's tarball, from the cache or fetched into it once.
package() {
  local cache=${BEACON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/beacon}/npm
  local name
  name=$(echo "${1#@}" | tr '/' '-' | sed 's/@/-/').tgz
  mkdir -p "$cache"
  if [[ ! -s "$cache/$name" ]]; then
    echo "fetching $1 into $cache (once)" >&2
    (cd "$cache" && npm pack --silent "$1" >/dev/null)
  fi
  mkdir -p "$out/pkg"
  tar -xzf "$cache/$name" -C "$out/pkg"
}

bun build --compile --minify packages/kernel/src/main.ts --outfile "$out/beacon-kernel" >/dev/null
add "$out/beacon-kernel"
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [[ -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
done
case "$AGENT" in
  codex)
    package "$CODEX_PACKAGE"
    cp "$out"/pkg/package/vendor/x86_64-unknown-linux-musl/bin/codex "$root/bin/codex"
    ;;
  claude)
    package "$CLAUDE_PACKAGE"
    add "$out/pkg/package/claude"
    ;;
esac
cmd='["/bin/beacon-kernel"]'
if [[ $AGENT != builtin ]]; then
  rm -f "$root/bin/bash"
  add "$(command -v bash)"
  # An init as PID 1 reaps what an agent's tools leave behind (the orphans of a stopped CLI): the engine's own
  # (docker-init, a static tini), which every machine that runs Docker has.
  init=$(command -v docker-init || command -v tini || true)
  if [[ -n $init ]]; then
    cp -L "$init" "$root/bin/tini"
    cmd='["/bin/tini", "--", "/bin/beacon-kernel"]'
  else
    echo "no docker-init or tini here: the image's kernel runs as PID 1 and orphans are not reaped" >&2
  fi
fi
printf 'root:x:0:0:root:/root:/bin/sh\nbeacon:x:1000:1000:beacon:/workspace:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nbeacon:x:1000:\n' > "$root/etc/group"
mkdir -p "$root/root"
chmod 1777 "$root/tmp"
chown 1000:1000 "$root/workspace"

# Numeric user, so the platform gives the container's key and token files (0400) to it.
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/bin' \
  --change 'ENV HOME=/workspace' \
  --change "ENV BEACON_AGENT=$AGENT" \
  --change 'WORKDIR /workspace' \
  --change 'USER 1000:1000' \
  --change 'EXPOSE 7681' \
  --change "CMD $cmd" \
  - "$TAG" >/dev/null
echo "$TAG"

#!/usr/bin/env bash
# The whole stack (services, NATS, MinIO, PostgreSQL, Prometheus, Alertmanager, Loki, Alloy, Grafana) with
# one command, with `docker compose` (v2) or Debian's `docker-compose` (v1):
#   bun run stack            # first run: writes distro/.env and distro/.secrets/, builds the images, starts
#   bun run stack down       # any other arguments go to compose (ps, logs -f, down -v, …)
# Without a reachable image registry the images are built on a base assembled from local files
# (distro/images/base/build.sh); BEACON_SERVICE_BASE / BEACON_KERNEL_BASE choose another base.
set -euo pipefail
cd "$(dirname "$0")"
files=(-f docker-compose.platform.yml -f observability/docker-compose.observability.yml)
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi

# Secrets, made once and kept: compose reads distro/.env by itself.
if [[ ! -f .env ]]; then
  rand() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
  umask 077
  cat >.env <<ENV
# Written by \`bun run stack\` on $(date -u +%FT%TZ); keep it secret, keep it (the volumes' data depends on it).
BEACON_ADMIN_TOKEN=$(rand 24)
BEACON_ALERT_TOKEN=$(rand 24)
BEACON_S3_SECRET_KEY=$(rand 16)
BEACON_POSTGRES_PASSWORD=$(rand 16)
GRAFANA_ADMIN_PASSWORD=$(rand 12)
ENV
  echo "wrote distro/.env (BEACON_ADMIN_TOKEN and the other secrets of the stack)"
fi
set -a
# shellcheck disable=SC1091
source .env
set +a
# Alertmanager reads the gateway's alert token from a file (its config cannot read the environment).
mkdir -p -m 700 .secrets
printf '%s' "$BEACON_ALERT_TOKEN" >.secrets/alert-token
chmod 644 .secrets/alert-token
# Prometheus reads the services' /metrics token from a file too (their own, else the admin token).
printf '%s' "${BEACON_METRICS_TOKEN:-$BEACON_ADMIN_TOKEN}" >.secrets/metrics-token
chmod 644 .secrets/metrics-token

if [[ "${1:-}" == down ]]; then
  "${compose[@]}" "${files[@]}" "$@"
  if [[ " $* " != *" -v "* && " $* " != *" --volumes "* ]]; then
    echo "The data volumes are kept (a later \`bun run stack\` finds it again); \`bun run stack down -v\` also removes them."
  fi
  exit 0
fi
if [[ $# -gt 0 && "$1" != up ]]; then exec "${compose[@]}" "${files[@]}" "$@"; fi
[[ $# -gt 0 ]] && shift

# Every image the stack needs from a registry, looked at before anything is pulled or started: all that are
# missing are named at once, with how to provide them without a registry.
missing=()
for image in $("${compose[@]}" "${files[@]}" config 2>/dev/null | sed -n 's/^ *image: *//p' | tr -d '"' | sort -u); do
  case "$image" in beacon*|"${BEACON_IMAGE_PREFIX:-beacon}"-*) continue ;; esac
  docker image inspect "$image" >/dev/null 2>&1 || docker pull -q "$image" >/dev/null 2>&1 || missing+=("$image")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  {
    echo "These images are neither on this engine nor pullable (no registry reachable?):"
    printf '  %s\n' "${missing[@]}"
    echo "Provide each without a registry: \`docker load -i <file>.tar\` (saved elsewhere with \`docker save\`),"
    echo "or \`docker tag <a local image> <name above>\`; tests/stack/assemble.sh makes NATS, Prometheus and"
    echo "Alertmanager from Debian's packages (docs/observability.md). Nothing was started."
  } >&2
  exit 1
fi

# NATS with Beacon's accounts: the server's configuration and the services' credentials (the authority is kept).
bun ../packages/platform/src/nats-auth.ts .secrets/nats >/dev/null
chmod 644 .secrets/nats/nats.conf .secrets/nats/gateway.creds
# The users' containers' own bridge: traffic between them off; they reach the proxy and NATS on its gateway.
export BEACON_KERNEL_NETWORK=${BEACON_KERNEL_NETWORK:-beacon-kernels}
export BEACON_TENANT_SUBNET=${BEACON_TENANT_SUBNET:-172.31.250.0/24}
export BEACON_TENANT_GATEWAY=${BEACON_TENANT_GATEWAY:-${BEACON_TENANT_SUBNET%.*}.1}
if ! docker network inspect "$BEACON_KERNEL_NETWORK" >/dev/null 2>&1; then
  docker network create --driver bridge -o com.docker.network.bridge.enable_icc=false \
    --subnet "$BEACON_TENANT_SUBNET" --gateway "$BEACON_TENANT_GATEWAY" "$BEACON_KERNEL_NETWORK" >/dev/null
fi


# A registry's base where one answers, else one assembled here.
base() {
  local image=$1
  if docker image inspect "$image" >/dev/null 2>&1 || docker pull -q "$image" >/dev/null 2>&1; then
    echo "$image"
  else
    bash images/base/build.sh
  fi
}
export BEACON_SERVICE_BASE=${BEACON_SERVICE_BASE:-$(base oven/bun:1.4.4-slim)}
build_base=${BEACON_KERNEL_BUILD_BASE:-$(base oven/bun:1.4.4)}
kernel_base=${BEACON_KERNEL_BASE:-$(base debian:12-slim)}
# The containers' default image: the built-in kernel, or (BEACON_KERNEL_AGENT=codex|claude) one driving that CLI.
agent=${BEACON_KERNEL_AGENT:-builtin}
if [[ $agent == builtin ]]; then
  export BEACON_KERNEL_IMAGE=${BEACON_KERNEL_IMAGE:-beacon-kernel:latest}
  echo "building $BEACON_KERNEL_IMAGE (the containers' image) on $kernel_base"
  docker build -q -f images/kernel/Dockerfile --build-arg "BUILD_BASE=$build_base" --build-arg "BASE=$kernel_base" \
    -t "$BEACON_KERNEL_IMAGE" .. >/dev/null
else
  export BEACON_KERNEL_IMAGE=${BEACON_KERNEL_IMAGE:-beacon-kernel-$agent:latest}
  echo "building $BEACON_KERNEL_IMAGE (the containers' image, driving $agent)"
  bash images/kernel/build.sh "$BEACON_KERNEL_IMAGE" "$agent" >/dev/null
fi
if ! "${compose[@]}" "${files[@]}" up -d --build "$@"; then
  cat >&2 <<FAILED

compose did not bring the stack up (its messages above). \`bun run stack down\` removes what was started
(\`down -v\` its volumes too).
FAILED
  exit 1
fi
cat <<DONE

Beacon is up. Gateway http://localhost:${BEACON_GATEWAY_PORT:-4000}, admin page http://localhost:${BEACON_PLATFORM_PORT:-9000}/admin,
Grafana http://localhost:${BEACON_GRAFANA_PORT:-3200}, Prometheus http://localhost:${BEACON_PROMETHEUS_PORT:-9090}.
The console's login: any user name, the admin token as password (BEACON_ADMIN_TOKEN in distro/.env).
Stop with: bun run stack down (the data volumes are kept; down -v removes them too)
DONE

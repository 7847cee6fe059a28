#!/usr/bin/env bash
# Builds the vxdoctor image (deploy/docker/Dockerfile.local) into the Docker daemon of $DOCKER_HOST
# without a registry: base from deploy/docker/base.sh (cached), app built on this host. The
# result is cached as a `docker save` tarball keyed by base, Dockerfile, node binary and app
# content; with --save-only it just prints that tarball's path (for `docker load` elsewhere).
#
#   bash deploy/docker/build-local.sh [--tag IMAGE] [--nats IMAGE]
#     --tag   image name (default ghcr.io/vxdoctor/vxdoctor:0.1.0, the stack's)
#     --nats  also build a NATS stand-in image of this name from Debian's nats-server
# Prints the path of the cached tarball (image(s) inside) on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=ghcr.io/vxdoctor/vxdoctor:0.1.0
NATS=
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --nats) NATS=$2; shift 2 ;;
    *) echo "build-local.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
DOCKER=${VXDOCTOR_DOCKER_CLI:-docker}
export DOCKER_BUILDKIT=0
CACHE=${VXDOCTOR_CACHE:-/var/cache/vxdoctor}
base_tar=$(bash deploy/docker/base.sh)
npx tsc -p tsconfig.json >&2 || true  # the image carries this checkout's build
[ -f dist/agent/main.js ] || { echo 'build-local.sh: no dist/ build' >&2; exit 1; }
node_bin=$(readlink -f "$(command -v node)")

# Staged build context: only what the runtime needs (production dependencies).
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/app/collector"
cp "$node_bin" "$ctx/node"
cp package.json package-lock.json "$ctx/app/"
cp -r dist bin "$ctx/app/"
cp -r collector/ui "$ctx/app/collector/ui"
mkdir -p "$ctx/app/node_modules"
npm ls --omit=dev --parseable --all 2>/dev/null | grep '/node_modules/' | sed "s#^$PWD/##" | sort -u |
  while read -r d; do mkdir -p "$ctx/app/$(dirname "$d")" && cp -r "$d" "$ctx/app/$d"; done
cp deploy/docker/Dockerfile.local deploy/docker/Dockerfile.nats-local "$ctx/"
key=$( (basename "$base_tar"; echo "$TAG $NATS"; cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
out=$CACHE/vxdoctor-image-$key.tar
if [ -s "$out" ]; then echo "$out"; exit 0; fi

base_tag=vxdoctor-base:$(basename "$base_tar" .tar | sed 's/^debian-//')
if ! "$DOCKER" image inspect "$base_tag" >/dev/null 2>&1; then
  "$DOCKER" import "$base_tar" "$base_tag" >/dev/null
fi
"$DOCKER" build -q --network none --build-arg "BASE=$base_tag" -f "$ctx/Dockerfile.local" -t "$TAG" "$ctx" >&2
images=("$TAG")
if [ -n "$NATS" ]; then
  "$DOCKER" build -q --network none --build-arg "BASE=$base_tag" -f "$ctx/Dockerfile.nats-local" -t "$NATS" "$ctx" >&2
  images+=("$NATS")
fi
mkdir -p "$CACHE"
rm -f "$CACHE"/vxdoctor-image-*.tar
"$DOCKER" save -o "$out.tmp" "${images[@]}"
mv "$out.tmp" "$out"
echo "$out"

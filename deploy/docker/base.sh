#!/usr/bin/env bash
# Makes the runtime base of deploy/docker/Dockerfile.local without a registry: a minimal Debian 12
# (debootstrap from the Debian mirror) with the tools the agent runs, as a rootfs tarball that
# `docker import` turns into an image. The tarball is cached, keyed by suite, architecture and
# package list, so a new machine (or a changed list) rebuilds it by itself and an unchanged one
# reuses it.
#
#   bash deploy/docker/base.sh            prints the path of the (cached) tarball
#
# Env: VXDOCTOR_CACHE (default /var/cache/vxdoctor), DEBIAN_MIRROR (default deb.debian.org).
set -euo pipefail

SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${VXDOCTOR_CACHE:-/var/cache/vxdoctor}
# What the agent runs (shared/exec.ts), libpcap for the capture addon, libstdc++ for node,
# tini to reap children, nats-server for the stack's NATS service (an image built from the same
# base, see build-images.sh).
PACKAGES=iproute2,nftables,iptables,ethtool,libpcap0.8,fping,procps,util-linux,tini,ca-certificates,libstdc++6,nats-server

arch=$(dpkg --print-architecture)
key=$(printf '%s\n' "$SUITE" "$arch" "$PACKAGES" "v1" | sha256sum | cut -c1-12)
out="$CACHE/debian-$SUITE-$arch-$key.tar"
if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "base.sh: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "base.sh: debootstrap is not installed (scripts/bootstrap.sh)" >&2; exit 1; }
mkdir -p "$CACHE"
root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
trap 'umount -R "$root/proc" "$root/sys" "$root/dev" 2>/dev/null || true; rm -rf --one-file-system "$root"' EXIT
echo "base.sh: debootstrap $SUITE ($arch) into $root" >&2
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >&2
# Smaller image: no apt lists, docs, man pages, locales.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$out"

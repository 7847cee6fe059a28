#!/usr/bin/env bash
# Installs everything vxdoctor's demo and tests need on a fresh Debian 12 machine (as root):
# Debian packages, npm packages (npm ci), and the TypeScript build. Idempotent and quick when
# everything is already there. Used by `npm test` and `npm run demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node.js 20 or later runs everything (fastify 5 and the NATS client need it); Debian 12's own
# nodejs package is 18, so it is a prerequisite rather than something installed here.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "bootstrap: vxdoctor needs Node.js >= 20 (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

APT_PACKAGES=(
  iproute2 nftables iptables ethtool procps kmod   # inventory + lab datapath
  libpcap-dev tcpdump                              # capture (pcap addon builds against libpcap-dev)
  fping iputils-ping socat                         # overlay probe; lab NATS relay into namespaces
  nats-server prometheus prometheus-alertmanager   # real servers for integration tests and demo
  chromium                                         # headless browser tests of the web page
  python3 make g++                                 # node-gyp for the pcap addon
  curl util-linux                                  # demo health polling; nsenter
  docker.io debootstrap busybox-static openssl     # Swarm lab: a dockerd per node, local images, secrets
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: missing Debian packages: ${missing[*]} — run as root or install them" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# kubectl (its built-in kustomize builds deploy/kubernetes in the unit tests) is not in Debian 12's
# archive: it comes from the Kubernetes (or Google Cloud SDK) apt repository.
if ! command -v kubectl >/dev/null; then
  echo "bootstrap: kubectl is missing: install it from the Kubernetes apt repository (package kubectl)" >&2
  exit 1
fi

# `npm install` rather than `npm ci`: npm 11 here writes lock files without the other
# platforms' optional packages (e.g. @biomejs/cli-darwin-*), which `npm ci` then rejects as
# "Missing ... from lock file". With an up-to-date lock, `npm install` installs the same versions.
stamp() { sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1; }
if [ ! -f node_modules/.vxdoctor-lock ] || [ "$(cat node_modules/.vxdoctor-lock)" != "$(stamp)" ]; then
  echo "bootstrap: npm install"
  npm install --no-audit --no-fund --loglevel=error
  stamp > node_modules/.vxdoctor-lock
fi
if ! node -e "require('pcap')" 2>/dev/null; then
  echo "bootstrap: note: the pcap addon did not build; agents will run without capture (unknown hop data)" >&2
fi

echo "bootstrap: build"
npx tsc -p tsconfig.json

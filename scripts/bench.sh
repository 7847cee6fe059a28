#!/usr/bin/env bash
# `npm run bench`: every benchmark under bench/, one JSON document each on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh >&2
for b in bench/*.ts; do
  echo "== $b" >&2
  node --import tsx "$b"
done

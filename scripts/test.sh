#!/usr/bin/env bash
# `npm test`: bootstrap, lint, typecheck (the build), unit tests, shipped-config checks
# (promtool/amtool), then lab and end-to-end tests in network namespaces (root; under CI=true
# they must run). Usage: scripts/test.sh [unit|lab|all]   (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

bash scripts/bootstrap.sh

echo "== lint (biome)"
npx biome check --diagnostic-level=error .

mkdir -p test-output
results=()
run_node_tests() { # label concurrency files...
  local label=$1 conc=$2; shift 2
  [ $# -gt 0 ] || return 0
  echo "== $label ($# files)"
  local log="test-output/$label.tap"
  set +e
  node --import tsx --test --test-concurrency="$conc" --test-reporter=tap "$@" | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  results+=("$log")
  return "$rc"
}

status=0
mapfile -t unit_files < <(find test/unit -name '*.test.ts' | sort)
run_node_tests unit 2 "${unit_files[@]}" || status=1

if [ "$what" = all ] || [ "$what" = lab ]; then
  if [ -x scripts/check-configs.sh ]; then
    echo "== shipped configs (promtool, amtool)"
    bash scripts/check-configs.sh || status=1
  fi
  if [ "$(id -u)" -ne 0 ] && [ "${CI:-}" != true ]; then
    echo "== lab/e2e tests SKIPPED: they need root (network namespaces). Run 'sudo npm test'."
  else
    mapfile -t lab_files < <(find test/lab test/e2e -name '*.test.ts' 2>/dev/null | sort)
    run_node_tests lab 1 "${lab_files[@]}" || status=1
  fi
fi

pass=0; fail=0; skip=0
for log in "${results[@]}"; do
  p=$(grep -E '^# pass ' "$log" | tail -1 | awk '{print $3}'); pass=$((pass + ${p:-0}))
  f=$(grep -E '^# fail ' "$log" | tail -1 | awk '{print $3}'); fail=$((fail + ${f:-0}))
  s=$(grep -E '^# skipped ' "$log" | tail -1 | awk '{print $3}'); skip=$((skip + ${s:-0}))
done
echo
echo "tests: $pass passed, $fail failed, $skip skipped"
if [ "$pass" -eq 0 ]; then echo "no test ran" >&2; exit 1; fi
exit $status

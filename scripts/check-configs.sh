#!/usr/bin/env bash
# Validates the shipped Prometheus/Alertmanager configuration with the real tools:
#   promtool check rules   deploy/prometheus/vxdoctor-rules.yml
#   promtool test rules    deploy/prometheus/vxdoctor-rules.test.yml (every alert, firing and not)
#   promtool check config  deploy/prometheus/prometheus.yml
#   amtool check-config    deploy/alertmanager/alertmanager.yml
# Exits non-zero when any of them fails. Run by `npm test` (scripts/test.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
run() {
  echo "-- $*"
  if "$@"; then echo "   ok"; else echo "   FAILED: $*" >&2; status=1; return 1; fi
}
for tool in promtool amtool; do
  command -v "$tool" >/dev/null || { echo "check-configs: $tool not installed (Debian: prometheus / prometheus-alertmanager)" >&2; exit 1; }
done
run promtool check rules deploy/prometheus/vxdoctor-rules.yml
(cd deploy/prometheus && run promtool test rules vxdoctor-rules.test.yml) || status=1
run promtool check config --syntax-only deploy/prometheus/prometheus.yml
run amtool check-config deploy/alertmanager/alertmanager.yml
if [ $status -eq 0 ]; then echo "check-configs: all shipped configs valid"; else echo "check-configs: FAILED" >&2; fi
exit $status

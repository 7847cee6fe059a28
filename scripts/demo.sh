#!/usr/bin/env bash
# `npm run demo [-- --fault NAME] [--once] [--swarm]`: the main job on one machine.
# Builds the 4-node, 2-rack lab (network namespaces), prints `vxdoctor inspect` for each node,
# starts nats-server, an agent in every node and the collector, prints the page URL and
# `vxdoctor status`; with --fault NAME injects a lab fault and shows vxdoctor finding and
# explaining it. Ctrl-C (or --once) removes everything the demo created.
# --swarm: the same on a real Docker Swarm (test/lab/swarm.sh: a dockerd per node, 3 managers +
# 1 worker in 2 racks, a global service on a user overlay); faults: tor-drop-vxlan,
# control-ports-blocked, missing-gwbridge, host-fw-vxlan, mtu-blackhole, mtu-fragneeded,
# dockerd-stopped. Shows what Docker itself says (docker node ls / service ls) next to vxdoctor.
set -euo pipefail
cd "$(dirname "$0")/.."

fault=""
once=false
swarm=false
while [ $# -gt 0 ]; do
  case "$1" in
    --fault) fault=${2:?--fault needs a name}; shift 2 ;;
    --fault=*) fault=${1#--fault=}; shift ;;
    --once) once=true; shift ;;
    --swarm) swarm=true; shift ;;
    -h|--help) echo "usage: npm run demo [-- --fault NAME] [--once] [--swarm]"; exit 0 ;;
    *) echo "demo: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then echo "demo: needs root (network namespaces); run 'sudo npm run demo'" >&2; exit 1; fi

bash scripts/bootstrap.sh

ID=vxm
LAB="bash test/lab/lab.sh --id $ID"
if $swarm; then
  ID=vxn${VXLAB_TAG:-}   # $VXLAB_TAG (one letter) keeps parallel checkouts apart
  LAB="bash test/lab/swarm.sh --id $ID"
fi
PORT=${VXDOCTOR_DEMO_NATS_PORT:-14222}
LISTEN=${VXDOCTOR_DEMO_LISTEN:-127.0.0.1:9700}
COLLECTOR="http://$LISTEN"
work=$(mktemp -d /tmp/vxdoctor-demo.XXXXXX)
pids=()

cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo: cleaning up"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  $LAB down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_diagnosis() { # after a fault: until the collector names a root cause (60 s)
  local i n
  for i in $(seq 30); do
    sleep 2
    n=$(curl -sf "$COLLECTOR/api/v1/diagnosis" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).rootCauses.length))' || echo 0)
    if [ "$n" -gt 0 ]; then echo "   found after $((i * 2)) s"; return; fi
  done
}

if $swarm; then
  echo "== real Docker Swarm up ($ID: a dockerd per node)"
  $LAB up
  $LAB nodes | while read -r n r role ip; do echo "   $n rack $r $role $ip"; done
  m0=$($LAB nodes | awk '$3 == "manager" {print $1; exit}')
  $LAB docker "$m0" node ls
  $LAB docker "$m0" service ls
  echo
  echo "== nats-server (JetStream) on 127.0.0.1:$PORT, an agent in every node, the collector"
  nats-server -js -sd "$work/js" -a 127.0.0.1 -p "$PORT" >"$work/nats.log" 2>&1 &
  pids+=($!)
  $LAB relay "$PORT" 4222
  head -c 32 /dev/urandom >"$work/probe.key"
  chmod 600 "$work/probe.key"
  while read -r n r _ _; do
    # In the node's own network, mount (its /var/run/docker) and UTS namespaces.
    nsenter -t "$($LAB holder "$n")" -n -m -u -- node "$PWD/bin/vxdoctor.js" agent --node "$n" \
      --nats nats://127.0.0.1:4222 --netns-dir /var/run/docker/netns --no-proc-netns --underlay-if eth0 \
      --label "rack=$r" --probe-key-file "$work/probe.key" --interval 2s --inventory-interval 5s \
      >"$work/agent-$n.log" 2>&1 &
    pids+=($!)
  done < <($LAB nodes)
  node bin/vxdoctor.js collector --nats "nats://127.0.0.1:$PORT" --listen "$LISTEN" >"$work/collector.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 60); do curl -sf "$COLLECTOR/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
  echo "== vxdoctor is running: open $COLLECTOR/ (logs in $work)"
  sleep 15
  node bin/vxdoctor.js status --collector "$COLLECTOR" || true
  if [ -n "$fault" ]; then
    echo
    echo "== injecting fault: $fault"
    $LAB fault "$fault"
    wait_diagnosis
    node bin/vxdoctor.js status --collector "$COLLECTOR" || true
    echo "-- what Docker says meanwhile (from $m0):"
    $LAB docker "$m0" node ls || true
    $LAB docker "$m0" service ls || true
  fi
  if $once; then exit 0; fi
  echo
  echo "== running; Ctrl-C to stop and clean up (status every 30 s)"
  while sleep 30; do node bin/vxdoctor.js status --collector "$COLLECTOR" || true; done
fi

echo "== lab up ($ID: racks A = n1 n2, B = n3 n4)"
$LAB up
rack_of() { case "$1" in n1|n2) echo A ;; *) echo B ;; esac; }
agent_args() { # node
  echo --netns-dir "/run/$ID/$1/netns" --netns-dir "/run/$ID/$1/docker-netns" --no-proc-netns \
    --underlay-if eth0 --label "rack=$(rack_of "$1")"
}

for n in n1 n2 n3 n4; do
  echo
  echo "== vxdoctor inspect on $n"
  # shellcheck disable=SC2046
  ip netns exec "$ID-$n" node bin/vxdoctor.js inspect --node "$n" $(agent_args "$n") || true
done

echo
echo "== nats-server (JetStream) on 127.0.0.1:$PORT"
nats-server -js -sd "$work/js" -a 127.0.0.1 -p "$PORT" >"$work/nats.log" 2>&1 &
pids+=($!)
$LAB relay "$PORT"

head -c 32 /dev/urandom >"$work/probe.key"
chmod 600 "$work/probe.key"
for n in n1 n2 n3 n4; do
  # shellcheck disable=SC2046
  ip netns exec "$ID-$n" node bin/vxdoctor.js agent --node "$n" --nats nats://127.0.0.1:4222 \
    $(agent_args "$n") --probe-key-file "$work/probe.key" --interval 2s \
    >"$work/agent-$n.log" 2>&1 &
  pids+=($!)
done
node bin/vxdoctor.js collector --nats "nats://127.0.0.1:$PORT" --listen "$LISTEN" >"$work/collector.log" 2>&1 &
pids+=($!)

for _ in $(seq 60); do curl -sf "$COLLECTOR/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
echo
echo "== vxdoctor is running: open $COLLECTOR/ (API: $COLLECTOR/api/v1/diagnosis, metrics: $COLLECTOR/metrics)"
echo "   logs in $work"
sleep 12
node bin/vxdoctor.js status --collector "$COLLECTOR" || true

if [ -n "$fault" ]; then
  echo
  echo "== injecting fault: $fault"
  $LAB fault "$fault"
  wait_diagnosis
  node bin/vxdoctor.js status --collector "$COLLECTOR" || true
fi

if $once; then exit 0; fi
echo
echo "== running; Ctrl-C to stop and clean up (status every 30 s)"
while sleep 30; do node bin/vxdoctor.js status --collector "$COLLECTOR" || true; done

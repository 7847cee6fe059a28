#!/usr/bin/env bash
# vxdoctor Swarm lab: a real Docker Swarm (Debian's docker.io) of four nodes in two racks, every
# node its own network, mount and UTS namespace running its own dockerd. Racks are "ToR" bridges
# joined by a core router; three managers spread over the racks and one worker; a user overlay
# network with a global service of a small locally made image (busybox), so that every node has
# real containers on the overlay. Faults are injected in the fabric, in a node or in Docker.
#
#   bash test/lab/swarm.sh [--id ID] up|down|status|clear|fault NAME|relay PORT|docker NODE ARGS...
#                                    |stack IMAGE-TAR|stack-rm
#                                    |pid NODE|holder NODE|start-dockerd NODE|stop-dockerd NODE|nodes
#
# Namespaces are ID-core, ID-torA, ID-torB and ID-<node>; state in /run/ID, daemon data in
# /var/lib/vxlab-ID. ID: --id, else VXLAB_ID, else vxw (3-4 lowercase letters). dockerd only ever
# runs inside the lab's node namespaces, never in the host's.
set -euo pipefail

ID=${VXLAB_ID:-vxw}
if [ "${1:-}" = --id ]; then
  ID=${2:?--id needs a value}
  shift 2
elif [[ ${1:-} == --id=* ]]; then
  ID=${1#--id=}
  shift
fi
if ! [[ $ID =~ ^[a-z]{3,4}$ ]]; then
  echo "swarm lab: id must be 3-4 lowercase letters, got '$ID'" >&2
  exit 2
fi
RUN=/run/$ID
DATA=/var/lib/vxlab-$ID
DOCKER=${VXLAB_DOCKER_CLI:-/usr/bin/docker}
export DOCKER_BUILDKIT=0 DOCKER_CLI_HINTS=false

# node:rack:role. Rack A = 10.81.1.0/24, rack B = 10.81.2.0/24, core router .254 in each.
SPEC=(mgr1:A:manager mgr2:A:manager mgr3:B:manager wrk1:B:worker)
NODES=()
for s in "${SPEC[@]}"; do NODES+=("${s%%:*}"); done
OVERLAY_NET=labnet
OVERLAY_SUBNET=10.90.0.0/24
BB_IMAGE=vxlab/busybox:1
FAULT_NAMES=(tor-drop-vxlan control-ports-blocked missing-gwbridge host-fw-vxlan mtu-blackhole
  mtu-fragneeded dockerd-stopped)

die() {
  echo "swarm lab($ID): $*" >&2
  exit 1
}
log() { echo "swarm lab($ID): $*" >&2; }

spec_of() { local s; for s in "${SPEC[@]}"; do [ "${s%%:*}" = "$1" ] && { echo "$s"; return; }; done; die "no node '$1'"; }
rack() { local s; s=$(spec_of "$1"); s=${s#*:}; echo "${s%%:*}"; }
role() { local s; s=$(spec_of "$1"); echo "${s##*:}"; }
rnum() { [ "$(rack "$1")" = A ] && echo 1 || echo 2; }
idx() { local i=0 n; for n in "${NODES[@]}"; do [ "$(rack "$n")" = "$(rack "$1")" ] && i=$((i + 1)); [ "$n" = "$1" ] && { echo $i; return; }; done; }
ul() { echo "10.81.$(rnum "$1").$(($(rnum "$1") * 10 + $(idx "$1")))"; }
managers() { local n; for n in "${NODES[@]}"; do [ "$(role "$n")" = manager ] && echo "$n"; done; }
first_manager() { local n; for n in "${NODES[@]}"; do [ "$(role "$n")" = manager ] && { echo "$n"; return; }; done; }
sock() { echo "$RUN/$1/docker.sock"; }
dk() { local n=$1; shift; timeout "${DK_TIMEOUT:-60}" "$DOCKER" -H "unix://$(sock "$n")" "$@"; }

existing_ns() { ip netns list | awk -v p="$ID-" 'index($1, p) == 1 {print $1}'; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ipb() { ip -n "$1" -b -; }

# ---------- processes ----------
alive() { # pid: running and not a zombie
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
holder_pid() { # node: PID of the process that holds the node's UTS and mount namespaces
  local f=$RUN/$1/holder.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && alive "$pid" && [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$(cat "$RUN/$1/mntns" 2>/dev/null)" ] || return 1
  echo "$pid"
}
dockerd_pid() { # node: the recorded dockerd PID if that process is still our dockerd
  local f=$RUN/$1/dockerd.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--data-root $DATA/$1 " || return 1
  echo "$pid"
}
in_mntns() { # node [comm-regex]: PIDs in the node's mount namespace (optionally by command name)
  local mnt p
  mnt=$(cat "$RUN/$1/mntns" 2>/dev/null || true)
  [ -n "$mnt" ] || return 0
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$mnt" ] || continue
    if [ -z "${2:-}" ] || grep -Eq "^(${2})" "$p/comm" 2>/dev/null; then echo "${p#/proc/}"; fi
  done
}
in_cgroup() { # node: PIDs of the node's containers (dockerd --cgroup-parent /ID-node)
  local cg
  for cg in /sys/fs/cgroup/pids/"$ID-$1" /sys/fs/cgroup/memory/"$ID-$1"; do
    [ -d "$cg" ] && find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
  return 0
}
kill_all() { # pids...: SIGKILL, then wait a moment
  [ $# -gt 0 ] || return 0
  kill -9 "$@" 2>/dev/null || true
  sleep 0.2
}
stop_dockerd() { # node: SIGTERM (dockerd stops its containers, containerd follows), then SIGKILL leftovers
  local n=$1 pid
  if pid=$(dockerd_pid "$n"); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 150); do alive "$pid" || break; sleep 0.1; done
  fi
  for _ in 1 2 3; do
    # shellcheck disable=SC2046
    kill_all $(in_mntns "$n" 'dockerd|containerd|docker-' | sort -u) $(in_cgroup "$n")
  done
  rm -f "$RUN/$n/dockerd.pid"
}
start_node() { # node: the node's own UTS + mount namespaces, held by one sleeping process
  local n=$1 d=$RUN/$1 pid
  mkdir -p "$d/docker" "$d/netns" "$DATA/$n" /run/docker
  # A resolver on the node's own loopback (none listens): the registry lookups Swarm tries
  # before it falls back to a local image fail at once instead of timing out.
  echo "nameserver 127.0.0.1" >"$d/resolv.conf"
  # Own hostname; own /var/run/docker and an empty /var/run/netns (neither the node nor its agent
  # sees the other nodes' namespaces). Slave propagation: nothing mounted inside leaks to the
  # host. nsenter --net, not `ip netns exec` (that remounts /sys and hides the cgroup mounts
  # dockerd needs). The holder outlives dockerd restarts, like a host outlives its daemon.
  nsenter --net="/run/netns/$ID-$n" unshare --uts --mount --propagation slave \
    bash -c 'hostname "$1" && mount --bind "$2/docker" /var/run/docker && mount --make-rshared /var/run/docker &&
      mount --bind "$2/netns" /var/run/netns && mount --make-rshared /var/run/netns &&
      mount --bind "$2/resolv.conf" /etc/resolv.conf && exec -a "vxlab-node $2" sleep infinity' \
    bash "$n" "$d" </dev/null >>"$d/node.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    alive "$pid" || die "node $n: namespace holder exited (see $d/node.log)"
    if grep -q "^vxlab-node" "/proc/$pid/cmdline" 2>/dev/null; then
      readlink "/proc/$pid/ns/mnt" >"$d/mntns"
      echo "$pid" >"$d/holder.pid"
      return 0
    fi
    sleep 0.05
  done
  die "node $n: namespaces not ready"
}
start_dockerd() { # node
  local n=$1 d=$RUN/$1 h pid
  h=$(holder_pid "$n") || die "node $n has no namespaces (lab not up?)"
  nsenter -t "$h" -n -m -u dockerd --data-root "$DATA/$n" -H "unix://$d/docker.sock" --pidfile "$d/dockerd.pid" \
    --cgroup-parent "/$ID-$n" --storage-driver overlay2 --log-level warn --userland-proxy=false \
    </dev/null >>"$d/dockerd.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    alive "$pid" || die "dockerd on $n exited (see $d/dockerd.log)"
    if [ -S "$d/docker.sock" ] && DK_TIMEOUT=5 dk "$n" version >/dev/null 2>&1; then
      [ "$(cat "$d/dockerd.pid" 2>/dev/null)" = "$pid" ] || echo "$pid" >"$d/dockerd.pid"
      return 0
    fi
    sleep 0.1
  done
  die "dockerd on $n did not answer within 30 s (see $d/dockerd.log)"
}

# ---------- down ----------
kill_recorded() { # pidfile
  local f=$1 pid kid
  [ -f "$f" ] || return 0
  for pid in $(cat "$f"); do
    for kid in $(pgrep -P "$pid" 2>/dev/null || true); do
      if tr '\0' ' ' <"/proc/$kid/cmdline" 2>/dev/null | grep -q "$RUN/"; then kill "$kid" 2>/dev/null || true; fi
    done
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$RUN/"; then
      kill "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$f"
}
do_down() {
  kill_recorded "$RUN/relay.pids"
  local n
  if [ -d "$RUN" ]; then
    for n in "${NODES[@]}"; do
      # Leaving is not needed (the whole swarm goes), but containers first keeps dockerd's
      # shutdown short.
      if dockerd_pid "$n" >/dev/null; then
        DK_TIMEOUT=20 dk "$n" rm -f $(DK_TIMEOUT=5 dk "$n" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
      fi
    done
    local pids=() p
    for n in "${NODES[@]}"; do stop_dockerd "$n" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p" || true; done
    for n in "${NODES[@]}"; do
      for _ in 1 2 3; do
        # shellcheck disable=SC2046
        kill_all $(in_mntns "$n" | sort -u) $(in_cgroup "$n")
      done
    done
  fi
  for n in "${NODES[@]}"; do
    local cg
    for cg in /sys/fs/cgroup/*/"$ID-$n"; do
      [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
    done
  done
  local nss m
  nss=$(existing_ns)
  if [ -n "$nss" ]; then
    sed 's/^/netns del /' <<<"$nss" | ip -force -b - >/dev/null 2>&1 || true
    for m in $(existing_ns); do ip netns del "$m" 2>/dev/null || true; done
  fi
  for m in $(awk -v r="$RUN" -v d="$DATA" 'index($2, r "/") == 1 || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  rm -rf --one-file-system "$RUN" "$DATA"
  rmdir /run/docker 2>/dev/null || true
}

# ---------- up ----------
busybox_rootfs() { # made once per up: busybox-static and its applet links
  local root=$RUN/bbroot
  if [ ! -x "$root/bin/busybox" ]; then
    [ -x /bin/busybox ] || die "busybox-static is not installed (scripts/bootstrap.sh)"
    mkdir -p "$root/bin" "$root/tmp" "$root/www"
    cp /bin/busybox "$root/bin/busybox"
    local a
    for a in $("$root/bin/busybox" --list); do [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"; done
    echo ok >"$root/www/index.html"
  fi
}
busybox_image() { # node: import the busybox rootfs as $BB_IMAGE
  tar -C "$RUN/bbroot" -c . | dk "$1" import - "$BB_IMAGE" >/dev/null
}
do_up() {
  local t0=$SECONDS n r
  do_down
  mkdir -p "$RUN" "$DATA"
  command -v dockerd >/dev/null || die "dockerd is not installed (docker.io, scripts/bootstrap.sh)"
  # 1. namespaces
  { echo "netns add $ID-core"; echo "netns add $ID-torA"; echo "netns add $ID-torB"
    for n in "${NODES[@]}"; do echo "netns add $ID-$n"; done; } | ip -b -
  local sw=(net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0)
  for r in A B; do nsx "$ID-tor$r" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 "${sw[@]}" >/dev/null; done
  nsx "$ID-core" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0 \
    net.ipv4.conf.all.rp_filter=0 "${sw[@]}" >/dev/null
  for n in "${NODES[@]}"; do
    nsx "$ID-$n" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
      net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.ip_forward=1 >/dev/null
  done
  # 2. ToR bridges and the core router
  for r in A B; do printf 'link set lo up\nlink add br-tor type bridge\nlink set br-tor up\n' | ipb "$ID-tor$r"; done
  ipb "$ID-core" <<EOF
link set lo up
link add eth-a type veth peer name p-core netns $ID-torA
link add eth-b type veth peer name p-core netns $ID-torB
addr add 10.81.1.254/24 dev eth-a
addr add 10.81.2.254/24 dev eth-b
link set eth-a up
link set eth-b up
EOF
  for r in A B; do echo "link set p-core master br-tor up" | ipb "$ID-tor$r"; done
  # 3. nodes (default route via the core, which has no way out: lab traffic stays in the lab)
  for n in "${NODES[@]}"; do
    ipb "$ID-$n" <<EOF
link set lo up
link add eth0 type veth peer name p-$n netns $ID-tor$(rack "$n")
addr add $(ul "$n")/24 dev eth0
link set eth0 up
route add default via 10.81.$(rnum "$n").254 dev eth0
EOF
    echo "link set p-$n master br-tor up" | ipb "$ID-tor$(rack "$n")"
  done
  # 4. one dockerd per node, in parallel
  for n in "${NODES[@]}"; do start_node "$n"; done
  local pids=() ok=1 p
  for n in "${NODES[@]}"; do start_dockerd "$n" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  [ $ok = 1 ] || die "a dockerd did not start"
  busybox_rootfs
  pids=()
  for n in "${NODES[@]}"; do busybox_image "$n" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || true; done
  for n in "${NODES[@]}"; do dk "$n" image inspect "$BB_IMAGE" >/dev/null || die "no $BB_IMAGE on $n"; done
  # 5. the swarm: init on the first manager, the other managers, then the worker
  local m0 mtok wtok
  m0=$(first_manager)
  dk "$m0" swarm init --advertise-addr "$(ul "$m0")" --listen-addr "$(ul "$m0"):2377" >/dev/null
  mtok=$(dk "$m0" swarm join-token -q manager)
  wtok=$(dk "$m0" swarm join-token -q worker)
  for n in "${NODES[@]}"; do
    [ "$n" = "$m0" ] && continue
    local tok=$wtok
    [ "$(role "$n")" = manager ] && tok=$mtok
    dk "$n" swarm join --token "$tok" --advertise-addr "$(ul "$n")" --listen-addr "$(ul "$n"):2377" \
      "$(ul "$m0"):2377" >/dev/null
  done
  for n in "${NODES[@]}"; do dk "$m0" node update --label-add "rack=$(rack "$n")" "$n" >/dev/null; done
  # 6. the user overlay and a global service on it
  dk "$m0" network create -d overlay --attachable --subnet "$OVERLAY_SUBNET" "$OVERLAY_NET" >/dev/null
  dk "$m0" service create --detach --quiet --name web --mode global --network "$OVERLAY_NET" \
    --restart-delay 1s "$BB_IMAGE" httpd -f -p 8080 -h /www >/dev/null
  wait_service web "${#NODES[@]}" 120
  : >"$RUN/faults"
  echo up >"$RUN/state"
  log "up in $((SECONDS - t0)) s"
}
running_tasks() { # service: number of its tasks in state Running
  dk "$(first_manager)" service ps "$1" --filter desired-state=running --format '{{.CurrentState}}' 2>/dev/null |
    grep -c '^Running' || true
}
wait_service() { # service count timeout-s
  local end=$((SECONDS + $3))
  while [ $SECONDS -lt $end ]; do
    [ "$(running_tasks "$1")" -ge "$2" ] && return 0
    sleep 0.5
  done
  dk "$(first_manager)" service ps --no-trunc "$1" >&2 || true
  die "service $1: fewer than $2 tasks running after $3 s"
}

# ---------- relay (agents as processes reach a nats-server on the host's loopback) ----------
do_relay() { # port [listen-port in the nodes, default 4222]
  local port=$1 lport=${2:-4222} n
  [[ $port =~ ^[0-9]+$ ]] || die "relay: bad port '$port'"
  [ -d "$RUN" ] || die "relay: lab is not up"
  kill_recorded "$RUN/relay.pids"
  socat "UNIX-LISTEN:$RUN/nats.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$port" </dev/null >>"$RUN/relay.log" 2>&1 &
  echo $! >>"$RUN/relay.pids"
  for n in "${NODES[@]}"; do
    nsenter --net="/run/netns/$ID-$n" socat "TCP-LISTEN:$lport,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$RUN/nats.sock" \
      </dev/null >>"$RUN/relay.log" 2>&1 &
    echo $! >>"$RUN/relay.pids"
  done
  for _ in $(seq 100); do
    local ok=1
    [ -S "$RUN/nats.sock" ] || ok=0
    for n in "${NODES[@]}"; do
      [ $ok = 1 ] || break
      nsx "$ID-$n" ss -Hltn "sport = :$lport" | grep -q . || ok=0
    done
    [ $ok = 1 ] && return 0
    sleep 0.05
  done
  die "relay: listeners did not come up within 5 s"
}

# ---------- the vxdoctor stack, deployed as docs/install-swarm.md says ----------
do_stack() { # image-tarball: load it on every node, secrets (the docs' commands), stack deploy
  local tar=$1 n m0 pids=() p ok=1 repo
  repo=$(cd "$(dirname "$0")/../.." && pwd)
  [ -s "$tar" ] || die "stack: no image tarball '$tar'"
  for n in "${NODES[@]}"; do
    mkdir -p "$RUN/$n/netns"
    DK_TIMEOUT=180 dk "$n" load -q -i "$tar" >/dev/null & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  [ $ok = 1 ] || die "stack: image load failed"
  m0=$(first_manager)
  # Step 3 of docs/install-swarm.md, run as written (its first ```sh block after "## 3.").
  awk '/^## 3\./ {s=1} s && /^```sh/ {b=1; next} b && /^```/ {exit} b {print}' "$repo/docs/install-swarm.md" >"$RUN/secrets.sh"
  [ -s "$RUN/secrets.sh" ] || die "stack: no secrets block in docs/install-swarm.md"
  (export DOCKER_HOST="unix://$(sock "$m0")" && cd "$RUN" && PATH="$(dirname "$DOCKER"):$PATH" bash -e "$RUN/secrets.sh") >"$RUN/secrets.log" 2>&1 ||
    die "stack: the docs' secret commands failed (see $RUN/secrets.log)"
  (cd "$repo/deploy/swarm" && DOCKER_HOST="unix://$(sock "$m0")" timeout 120 "$DOCKER" stack deploy -c stack.yml vxdoctor) >"$RUN/stack.log" 2>&1 ||
    die "stack deploy failed: $(cat "$RUN/stack.log")"
}
do_stack_rm() {
  local m0 n
  m0=$(first_manager)
  dk "$m0" stack rm vxdoctor >/dev/null 2>&1 || true
  for n in "${NODES[@]}"; do
    for _ in $(seq 120); do
      [ -z "$(DK_TIMEOUT=5 dk "$n" ps -q --filter label=com.docker.stack.namespace=vxdoctor 2>/dev/null)" ] && break
      sleep 0.5
    done
  done
}

# ---------- faults ----------
between_racks() { # name rules...
  nsx "$ID-core" nft -f - <<EOF
table inet vxswarm_$1 {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip saddr 10.81.1.0/24 ip daddr 10.81.2.0/24 jump between_racks
    ip saddr 10.81.2.0/24 ip daddr 10.81.1.0/24 jump between_racks
  }
  chain between_racks {
    $2
  }
}
EOF
}
# Fault targets (one node each), overridable: FAULT_NODE=mgr2 swarm.sh fault host-fw-vxlan
target() { # fault
  if [ -n "${FAULT_NODE:-}" ]; then echo "$FAULT_NODE"; return; fi
  case "$1" in
    missing-gwbridge) local n; for n in "${NODES[@]}"; do [ "$(role "$n")" = worker ] && { echo "$n"; return; }; done ;;
    host-fw-vxlan) echo "${NODES[1]}" ;;
    mtu-blackhole | mtu-fragneeded) echo "${NODES[2]}" ;;
    dockerd-stopped) echo "${NODES[3]}" ;;
  esac
}
fault_apply() {
  local n
  n=$(target "$1")
  case "$1" in
    tor-drop-vxlan) between_racks "$1" 'udp dport 4789 counter drop' ;;
    control-ports-blocked) between_racks "$1" 'tcp dport { 2377, 7946 } counter drop
    udp dport 7946 counter drop' ;;
    missing-gwbridge) ip -n "$ID-$n" link del docker_gwbridge ;;
    host-fw-vxlan)
      nsx "$ID-$n" nft -f - <<EOF
table inet vxswarm_hostfw {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 4789 counter drop
  }
}
EOF
      ;;
    mtu-blackhole) ip -n "$ID-tor$(rack "$n")" link set "p-$n" mtu 1454 ;;
    mtu-fragneeded)
      ip -n "$ID-$n" link set eth0 mtu 1454
      ip -n "$ID-core" route replace "$(ul "$n")/32" dev "eth-$(rack "$n" | tr AB ab)" mtu 1454
      ;;
    dockerd-stopped) stop_dockerd "$n" ;;
    *) die "unknown fault '$1' (known: ${FAULT_NAMES[*]})" ;;
  esac
  echo "$1 $n" >>"$RUN/faults"
}
fault_revert() { # fault node
  local n=$2
  case "$1" in
    tor-drop-vxlan | control-ports-blocked) nsx "$ID-core" nft delete table inet "vxswarm_$1" 2>/dev/null || true ;;
    missing-gwbridge)
      # `docker network create ... docker_gwbridge` (incident 4's fix) is refused while Docker
      # still has the network; a daemon restart recreates the bridge from Docker's own state.
      # Once in a CI run (of many) the restarted daemon kept the network without its bridge
      # ("could not find bridge docker_gwbridge" for every task after): wait for the bridge,
      # and restart again if it does not come back.
      local try
      for try in 1 2 3; do
        ip -n "$ID-$n" link show docker_gwbridge >/dev/null 2>&1 && break
        [ "$try" = 1 ] || log "docker_gwbridge still missing on $n: restarting dockerd again ($try)"
        stop_dockerd "$n"
        start_dockerd "$n"
        for _ in $(seq 150); do
          ip -n "$ID-$n" link show docker_gwbridge >/dev/null 2>&1 && break
          sleep 0.1
        done
      done
      ;;
    host-fw-vxlan) nsx "$ID-$n" nft delete table inet vxswarm_hostfw 2>/dev/null || true ;;
    mtu-blackhole) ip -n "$ID-tor$(rack "$n")" link set "p-$n" mtu 1500 ;;
    mtu-fragneeded)
      ip -n "$ID-$n" link set eth0 mtu 1500
      ip -n "$ID-core" route del "$(ul "$n")/32" 2>/dev/null || true
      ;;
    dockerd-stopped) dockerd_pid "$n" >/dev/null || start_dockerd "$n" ;;
  esac
}
do_clear() {
  [ -f "$RUN/faults" ] || return 0
  local f n
  while read -r f n; do [ -n "$f" ] && fault_revert "$f" "$n"; done <"$RUN/faults"
  : >"$RUN/faults"
  for n in "${NODES[@]}"; do ip -n "$ID-$n" route flush cache 2>/dev/null || true; done
  ip -n "$ID-core" route flush cache 2>/dev/null || true
}

do_status() {
  echo "id: $ID  state: $(cat "$RUN/state" 2>/dev/null || echo down)"
  local n
  for n in "${NODES[@]}"; do
    printf '%s rack %s %s %s dockerd %s\n' "$n" "$(rack "$n")" "$(role "$n")" "$(ul "$n")" "$(dockerd_pid "$n" || echo -)"
  done
  echo "namespaces: $(existing_ns | tr '\n' ' ')"
  echo "faults: $(tr '\n' ';' <"$RUN/faults" 2>/dev/null)"
  [ -f "$RUN/state" ] && dk "$(first_manager)" node ls 2>/dev/null || true
}

cmd=${1:-}
shift || true
case "$cmd" in
  up) do_up ;;
  down) do_down ;;
  status) do_status ;;
  clear) do_clear ;;
  fault) [ -n "${1:-}" ] || die "fault needs a name (${FAULT_NAMES[*]})"; fault_apply "$1" ;;
  relay) do_relay "${1:?relay needs a port}" "${2:-4222}" ;;
  docker) n=${1:?docker needs a node}; shift; dk "$n" "$@" ;;
  stack) do_stack "${1:?stack needs an image tarball (deploy/docker/build-local.sh)}" ;;
  stack-rm) do_stack_rm ;;
  pid) dockerd_pid "${1:?pid needs a node}" ;;
  holder) holder_pid "${1:?holder needs a node}" ;;
  start-dockerd) start_dockerd "${1:?}" ;;
  stop-dockerd) stop_dockerd "${1:?}" ;;
  nodes) for n in "${NODES[@]}"; do echo "$n $(rack "$n") $(role "$n") $(ul "$n")"; done ;;
  *) echo "usage: swarm.sh [--id ID] up|down|status|clear|fault NAME|relay PORT|docker NODE ARGS...|pid NODE|nodes" >&2; exit 2 ;;
esac

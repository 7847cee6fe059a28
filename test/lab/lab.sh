#!/usr/bin/env bash
# vxdoctor lab (test/lab/README.md): 4 nodes in 2 racks built from network namespaces, with a Docker-style
# and a flannel-style VXLAN overlay on every node, and reversible faults.
#
#   bash test/lab/lab.sh [--id ID] up|down|status|clear|fault NAME|relay PORT|exec NODE CMD...
#
# Every namespace is named ID-..., all state lives in /run/ID. ID comes from --id, else VXLAB_ID,
# else vxl (3-4 lowercase letters). Links are only ever created inside lab namespaces.
set -euo pipefail

ID=${VXLAB_ID:-vxl}
if [ "${1:-}" = --id ]; then
  ID=${2:?--id needs a value}
  shift 2
elif [[ ${1:-} == --id=* ]]; then
  ID=${1#--id=}
  shift
fi
if ! [[ $ID =~ ^[a-z]{3,4}$ ]]; then
  echo "lab: id must be 3-4 lowercase letters, got '$ID'" >&2
  exit 2
fi
RUN=/run/$ID
NODES=(n1 n2 n3 n4)
SWITCHES=(torA torB spine)
FAULT_NAMES=(tor-drop-vxlan host-fw-vxlan mtu-blackhole mtu-fragneeded fdb-nat dup-vtep missing-gwbridge
  vni-mismatch dstport-mismatch neighbor-missing control-ports-blocked vtep-down subnet-overlap node-isolated
  tor-gray-loss tor-drop-4789)

# Docker names: the overlay network namespace 1-<netid[:10]>, a container namespace <12 hex>.
OV_NETID=abcdef0123
NAT_IP=10.0.2.15

die() {
  echo "lab($ID): $*" >&2
  exit 1
}

# ---------- per-node facts ----------
num() { echo "${1#n}"; }                                   # n3 -> 3
rack() { if [ "$(num "$1")" -le 2 ]; then echo A; else echo B; fi; }
rnum() { if [ "$(num "$1")" -le 2 ]; then echo 1; else echo 2; fi; }
hx() { printf '%02x' $((10 + $(num "$1"))); }              # n1 -> 0b (matches .11)
ul() { echo "10.200.$(rnum "$1").1$(num "$1")"; }          # underlay address
ctr_ip() { echo "10.0.1.1$(num "$1")"; }
pod_net() { echo "10.244.$(num "$1")"; }
ctr_id() { printf 'c0ffee%06x' "$(num "$1")"; }
pod_id() { printf 'cni-5e1f0000-0000-4000-8000-%012x' "$(num "$1")"; }
# MAC addresses (deterministic)
mac_eth0() { echo "02:00:0a:c8:0$(rnum "$1"):$(hx "$1")"; }
mac_port() { echo "02:01:0a:c8:0$(rnum "$1"):$(hx "$1")"; }
mac_ctr() { echo "02:42:0a:00:01:$(hx "$1")"; }
mac_ovveth() { echo "02:43:0a:00:01:$(hx "$1")"; }
mac_br0() { echo "02:44:0a:00:01:$(hx "$1")"; }
mac_vxlan0() { echo "02:45:0a:00:01:$(hx "$1")"; }
mac_ctr_gw() { echo "02:42:ac:12:00:$(hx "$1")"; }
mac_vethgw() { echo "02:43:ac:12:00:$(hx "$1")"; }
mac_gwbridge() { echo "02:44:ac:12:00:$(hx "$1")"; }
mac_flannel() { echo "0e:f1:00:00:00:$(hx "$1")"; }
mac_cni0() { echo "0a:58:0a:f4:0$(num "$1"):01"; }
mac_pod() { echo "0a:58:0a:f4:0$(num "$1"):02"; }
mac_vethpod() { echo "0a:59:0a:f4:0$(num "$1"):02"; }
mac_nat0() { echo "08:00:27:00:00:$(hx "$1")"; }
mac_nat0p() { echo "08:00:27:01:00:$(hx "$1")"; }

all_ns() {
  local n
  for n in "${SWITCHES[@]}"; do echo "$ID-$n"; done
  for n in "${NODES[@]}"; do echo "$ID-$n $ID-$n-ov $ID-$n-c1 $ID-$n-p1 $ID-$n-ing"; done
}
existing_ns() { ip netns list | awk -v p="$ID-" 'index($1, p) == 1 {print $1}'; }
ns_exists() { [ -e "/run/netns/$1" ]; }

# Batch helpers: feed iproute2/bridge commands on stdin to one process per namespace.
ipb() { ip -n "$1" -b -; }
brb() { bridge -n "$1" -b -; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---------- building blocks (print batch lines) ----------
# Docker VTEP: created in the node namespace (its UDP socket stays there), moved to the overlay ns.
docker_vtep_node() { # node vni port
  echo "link add vxlan0 address $(mac_vxlan0 "$1") type vxlan id $2 dstport $3 learning proxy l2miss l3miss"
  echo "link set vxlan0 mtu 1450 netns $ID-$1-ov"
}
docker_vtep_ov() { # node
  echo "link set vxlan0 master br0 up"
  docker_vtep_neigh "$1"
}
docker_vtep_neigh() { # node
  local n=$1 m
  for m in "${NODES[@]}"; do
    [ "$m" = "$n" ] && continue
    echo "neigh replace $(ctr_ip "$m") lladdr $(mac_ctr "$m") dev vxlan0 nud permanent"
  done
}
docker_vtep_fdb() { # node
  local n=$1 m
  for m in "${NODES[@]}"; do
    [ "$m" = "$n" ] && continue
    echo "fdb replace $(mac_ctr "$m") dev vxlan0 dst $(ul "$m") self permanent"
  done
}
recreate_docker_vtep() { # node vni port
  local n=$1
  ip -n "$ID-$n-ov" link del vxlan0 2>/dev/null || true
  docker_vtep_node "$n" "$2" "$3" | ipb "$ID-$n"
  docker_vtep_ov "$n" | ipb "$ID-$n-ov"
  docker_vtep_fdb "$n" | brb "$ID-$n-ov"
}

# Flannel VTEP in the node namespace: flannel.1 + per-remote route, neighbor, FDB.
flannel_node() { # node local dev
  local n=$1 m
  echo "link add flannel.1 address $(mac_flannel "$n") type vxlan id 1 dstport 8472 local $2 dev $3 nolearning"
  echo "link set flannel.1 mtu 1450 up"
  echo "addr add $(pod_net "$n").0/32 dev flannel.1"
  for m in "${NODES[@]}"; do
    [ "$m" = "$n" ] && continue
    echo "route replace $(pod_net "$m").0/24 via $(pod_net "$m").0 dev flannel.1 onlink"
    echo "neigh replace $(pod_net "$m").0 lladdr $(mac_flannel "$m") dev flannel.1 nud permanent"
  done
}
flannel_fdb() { # node [dst-override]
  local n=$1 m
  for m in "${NODES[@]}"; do
    [ "$m" = "$n" ] && continue
    echo "fdb replace $(mac_flannel "$m") dev flannel.1 dst ${2:-$(ul "$m")} self permanent"
  done
}
recreate_flannel() { # node local dev [fdb-dst]
  local n=$1
  ip -n "$ID-$n" link del flannel.1 2>/dev/null || true
  flannel_node "$n" "$2" "$3" | ipb "$ID-$n"
  flannel_fdb "$n" "${4:-}" | brb "$ID-$n"
}

gwbridge_node() { # node
  local n=$1
  echo "link add docker_gwbridge address $(mac_gwbridge "$n") type bridge"
  echo "addr add 172.18.0.1/16 dev docker_gwbridge"
  echo "link set docker_gwbridge up"
}

# ---------- down ----------
alive() { # pid: running and not a zombie (an unreaped child of whoever adopted it)
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
kill_recorded() { # pidfile
  local f=$1 pid kid
  [ -f "$f" ] || return 0
  # socat forks one child per connection: stop those first (children of the recorded PIDs)
  for pid in $(cat "$f"); do
    for kid in $(pgrep -P "$pid" 2>/dev/null || true); do
      if tr '\0' ' ' <"/proc/$kid/cmdline" 2>/dev/null | grep -q "$RUN/"; then kill "$kid" 2>/dev/null || true; fi
    done
  done
  while read -r pid; do
    [ -n "$pid" ] || continue
    # only a process that is still ours (its command line names our run dir)
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$RUN/"; then
      kill "$pid" 2>/dev/null || true
    fi
  done <"$f"
  for pid in $(cat "$f"); do
    for _ in $(seq 20); do alive "$pid" || break; sleep 0.05; done
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$RUN/"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$f"
}

do_down() {
  kill_recorded "$RUN/relay.pids"
  local m
  for m in $(awk -v r="$RUN" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  local nss
  nss=$(existing_ns)
  if [ -n "$nss" ]; then
    # shellcheck disable=SC2001
    sed 's/^/netns del /' <<<"$nss" | ip -force -b - >/dev/null 2>&1 || true
    for m in $(existing_ns); do ip netns del "$m" 2>/dev/null || true; done
  fi
  rm -rf "$RUN"
}

# ---------- up ----------
do_up() {
  do_down
  mkdir -p "$RUN"
  local ns n r R sw
  # 1. namespaces + sysctls
  all_ns | tr ' ' '\n' | sed 's/^/netns add /' | ip -b -
  for ns in $(all_ns); do
    local extra=()
    case "$ns" in
      "$ID-torA" | "$ID-torB")
        extra=(net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0
          net.bridge.bridge-nf-call-arptables=0) ;;
      "$ID-spine")
        extra=(net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0
          net.bridge.bridge-nf-call-arptables=0 net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0) ;;
      "$ID-n1" | "$ID-n2" | "$ID-n3" | "$ID-n4") extra=(net.ipv4.ip_forward=1) ;;
    esac
    nsx "$ns" sysctl -q -e -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
      net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 "${extra[@]}" >/dev/null
  done
  # 2. top-of-rack switches
  for r in 1 2; do
    R=$([ $r = 1 ] && echo A || echo B)
    printf 'link set lo up\nlink add br-tor address 02:02:00:00:00:0%s type bridge\nlink set br-tor up\n' "$r" |
      ipb "$ID-tor$R"
  done
  # 3. spine router
  ipb "$ID-spine" <<EOF
link set lo up
link add eth-a address 02:00:0a:c8:01:fe type veth peer name p-spine address 02:01:0a:c8:01:fe netns $ID-torA
link add eth-b address 02:00:0a:c8:02:fe type veth peer name p-spine address 02:01:0a:c8:02:fe netns $ID-torB
addr add 10.200.1.254/24 dev eth-a
addr add 10.200.2.254/24 dev eth-b
link set eth-a up
link set eth-b up
EOF
  # 4. nodes
  for n in "${NODES[@]}"; do
    local N=$ID-$n OV=$ID-$n-ov C=$ID-$n-c1 P=$ID-$n-p1 other
    other=$([ "$(rnum "$n")" = 1 ] && echo 2 || echo 1)
    {
      echo "link set lo up"
      echo "link add eth0 address $(mac_eth0 "$n") type veth peer name p-$n address $(mac_port "$n") netns $ID-tor$(rack "$n")"
      echo "addr add $(ul "$n")/24 dev eth0"
      echo "link set eth0 up"
      echo "route add 10.200.$other.0/24 via 10.200.$(rnum "$n").254 dev eth0"
      docker_vtep_node "$n" 256 4789
      gwbridge_node "$n"
      echo "link add vethgw address $(mac_vethgw "$n") type veth peer name eth1 address $(mac_ctr_gw "$n") netns $C"
      echo "link set vethgw master docker_gwbridge up"
      flannel_node "$n" "$(ul "$n")" eth0
      echo "link add cni0 address $(mac_cni0 "$n") mtu 1450 type bridge"
      echo "addr add $(pod_net "$n").1/24 dev cni0"
      echo "link set cni0 up"
      echo "link add vethpod address $(mac_vethpod "$n") mtu 1450 type veth peer name eth0 address $(mac_pod "$n") netns $P"
      echo "link set vethpod master cni0 up"
    } | ipb "$N"
    flannel_fdb "$n" | brb "$N"
    {
      echo "link set lo up"
      echo "link add br0 address $(mac_br0 "$n") type bridge"
      echo "addr add 10.0.1.1/24 dev br0"
      echo "link add veth0 address $(mac_ovveth "$n") mtu 1450 type veth peer name eth0 address $(mac_ctr "$n") netns $C"
      echo "link set veth0 master br0 up"
      docker_vtep_ov "$n"
      echo "link set br0 up"
    } | ipb "$OV"
    docker_vtep_fdb "$n" | brb "$OV"
    ipb "$C" <<EOF
link set lo up
link set eth0 mtu 1450
addr add $(ctr_ip "$n")/24 dev eth0
link set eth0 up
addr add 172.18.0.1$(num "$n")/16 dev eth1
link set eth1 up
route add default via 172.18.0.1 dev eth1
EOF
    ipb "$P" <<EOF
link set lo up
link set eth0 mtu 1450
addr add $(pod_net "$n").2/24 dev eth0
link set eth0 up
route add default via $(pod_net "$n").1 dev eth0
EOF
    echo "link set lo up" | ipb "$ID-$n-ing"
  done
  # 5. switch ports up, attached to the rack bridge
  for R in A B; do
    {
      echo "link set p-spine master br-tor up"
      for n in "${NODES[@]}"; do
        if [ "$(rack "$n")" = "$R" ]; then echo "link set p-$n master br-tor up"; fi
      done
    } | ipb "$ID-tor$R"
  done
  # 6. what each node's agent sees: namespace files under its --netns-dir directories
  for n in "${NODES[@]}"; do
    local d=$RUN/$n
    mkdir -p "$d/netns" "$d/docker-netns"
    bind_ns "$ID-$n-ov" "$d/docker-netns/1-$OV_NETID"
    bind_ns "$ID-$n-c1" "$d/docker-netns/$(ctr_id "$n")"
    bind_ns "$ID-$n-ing" "$d/docker-netns/ingress_sbox"
    bind_ns "$ID-$n-p1" "$d/netns/$(pod_id "$n")"
  done
  : >"$RUN/faults"
  settle
  echo up >"$RUN/state"
}
# Carrier changes reach bridges through the kernel's deferred link watch (up to ~1 s): wait until
# every administratively-up link in the lab has its lower layer up, so nobody reads a half-settled
# lab (e.g. br0 NO-CARRIER right after up).
settle() {
  local ns pending
  for _ in $(seq 60); do
    pending=0
    for ns in $(all_ns); do
      # carrier without operstate UP yet shows as NO-CARRIER (IFF_RUNNING follows operstate)
      if ip -n "$ns" -o link show up | awk '!/LOWER_UP/ || /NO-CARRIER|state (DOWN|LOWERLAYERDOWN)/ {n++} END {exit !n}'; then
        pending=1
        break
      fi
    done
    [ $pending = 0 ] && return 0
    sleep 0.05
  done
  echo "lab($ID): warning: links still settling after 3 s" >&2
}
bind_ns() { # ns target
  touch "$2"
  mount --bind "/run/netns/$1" "$2"
}

# ---------- status ----------
do_status() {
  local want have missing=0 ns
  want=$(all_ns | tr ' ' '\n' | sort)
  have=$(existing_ns | sort)
  for ns in $want; do grep -qx "$ns" <<<"$have" || missing=$((missing + 1)); done
  echo "id: $ID"
  echo "run dir: $RUN $([ -d "$RUN" ] && echo present || echo absent)"
  echo "namespaces: $(grep -c . <<<"$have" || true) present, $missing of $(wc -w <<<"$want") missing"
  echo "bind mounts: $(awk -v r="$RUN/" 'index($2, r) == 1' /proc/mounts | wc -l)"
  echo "faults: $( [ -s "$RUN/faults" ] && tr '\n' ' ' <"$RUN/faults" || echo none)"
  if [ -s "$RUN/relay.pids" ]; then
    echo "relay: pids $(tr '\n' ' ' <"$RUN/relay.pids")(port $(cat "$RUN/relay.port" 2>/dev/null || echo ?))"
  else
    echo "relay: none"
  fi
  [ "$missing" -eq 0 ] || return 3
}

# ---------- relay ----------
need_tools() {
  command -v socat >/dev/null && command -v fping >/dev/null && return 0
  apt-get install -y socat fping >/dev/null || die "cannot install socat/fping"
}
do_relay() { # port
  local port=$1 n pid
  [[ $port =~ ^[0-9]+$ ]] && [ "$port" -gt 0 ] && [ "$port" -lt 65536 ] || die "relay: bad port '$port'"
  [ -d "$RUN" ] || die "relay: lab is not up"
  need_tools
  kill_recorded "$RUN/relay.pids"
  rm -f "$RUN/nats.sock"
  socat "UNIX-LISTEN:$RUN/nats.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$port" \
    </dev/null >>"$RUN/relay.log" 2>&1 &
  echo $! >>"$RUN/relay.pids"
  for n in "${NODES[@]}"; do
    ip netns exec "$ID-$n" socat TCP-LISTEN:4222,bind=127.0.0.1,reuseaddr,fork "UNIX-CONNECT:$RUN/nats.sock" \
      </dev/null >>"$RUN/relay.log" 2>&1 &
    echo $! >>"$RUN/relay.pids"
  done
  echo "$port" >"$RUN/relay.port"
  # wait until every listener is there
  for _ in $(seq 100); do
    local ok=1
    [ -S "$RUN/nats.sock" ] || ok=0
    for n in "${NODES[@]}"; do
      [ $ok = 1 ] || break
      ip netns exec "$ID-$n" ss -Hltn 'sport = :4222' | grep -q . || ok=0
    done
    [ $ok = 1 ] && return 0
    for pid in $(cat "$RUN/relay.pids"); do alive "$pid" || die "relay: socat $pid exited (see $RUN/relay.log)"; done
    sleep 0.05
  done
  die "relay: listeners did not come up within 5 s"
}

# ---------- faults ----------
fault_apply() {
  case "$1" in
    tor-drop-vxlan | control-ports-blocked | tor-drop-4789)
      local rules
      if [ "$1" = tor-drop-vxlan ]; then
        rules='udp dport { 4789, 8472 } counter drop'
      elif [ "$1" = tor-drop-4789 ]; then
        # one VXLAN port only (the Docker/Swarm overlay); flannel's 8472 passes
        rules='udp dport 4789 counter drop'
      else
        rules='tcp dport { 2377, 7946 } counter drop
    udp dport 7946 counter drop'
      fi
      nsx "$ID-spine" nft -f - <<EOF
table inet vxlab_$1 {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip saddr 10.200.1.0/24 ip daddr 10.200.2.0/24 jump between_racks
    ip saddr 10.200.2.0/24 ip daddr 10.200.1.0/24 jump between_racks
  }
  chain between_racks {
    $rules
  }
}
EOF
      ;;
    tor-gray-loss)
      # rack A's ToR uplink loses one VXLAN packet in three between the racks, either way, any
      # size (bridge family: the ToR is an L2 switch); traffic inside a rack is untouched
      nsx "$ID-torA" nft -f - <<EOF
table bridge vxlab_gray {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip saddr 10.200.1.0/24 ip daddr 10.200.2.0/24 udp dport { 4789, 8472 } numgen random mod 3 == 0 counter drop
    ip saddr 10.200.2.0/24 ip daddr 10.200.1.0/24 udp dport { 4789, 8472 } numgen random mod 3 == 0 counter drop
  }
}
EOF
      ;;
    host-fw-vxlan)
      nsx "$ID-n3" nft -f - <<EOF
table inet filter {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 4789 counter drop
  }
}
EOF
      ;;
    mtu-blackhole) ip -n "$ID-torB" link set p-n4 mtu 1454 ;;
    mtu-fragneeded)
      ip -n "$ID-n4" link set eth0 mtu 1454
      ip -n "$ID-spine" route replace 10.200.2.14/32 dev eth-b mtu 1454
      ;;
    fdb-nat) bridge -n "$ID-n1" fdb replace "$(mac_flannel n3)" dev flannel.1 dst "$NAT_IP" self permanent ;;
    dup-vtep)
      for n in "${NODES[@]}"; do
        ipb "$ID-$n" <<EOF
link add nat0 address $(mac_nat0 "$n") type veth peer name nat0p address $(mac_nat0p "$n")
addr add $NAT_IP/24 dev nat0
link set nat0p up
link set nat0 up
EOF
        recreate_flannel "$n" "$NAT_IP" nat0 "$NAT_IP"
      done
      ;;
    missing-gwbridge) ip -n "$ID-n2" link del docker_gwbridge ;;
    vni-mismatch) recreate_docker_vtep n4 257 4789 ;;
    dstport-mismatch) recreate_docker_vtep n4 256 4790 ;;
    neighbor-missing)
      ip -n "$ID-n1-ov" neigh del "$(ctr_ip n3)" dev vxlan0
      # the container's own ARP cache would hide the fault until it expires
      ip -n "$ID-n1-c1" neigh flush to "$(ctr_ip n3)" 2>/dev/null || true
      ;;
    vtep-down)
      # the kernel drops a device's neighbor entries (PERMANENT too) when it goes down; put them
      # back so the only difference from healthy is the down VTEP
      { echo "link set vxlan0 down"; docker_vtep_neigh n2; } | ipb "$ID-n2-ov"
      ;;
    subnet-overlap) ip -n "$ID-n1" route add 10.0.0.0/16 via 10.200.1.254 dev eth0 ;;
    node-isolated) ip -n "$ID-torB" link set p-n4 down ;;
    *) die "unknown fault '$1' (known: ${FAULT_NAMES[*]})" ;;
  esac
}
fault_revert() {
  case "$1" in
    tor-drop-vxlan | control-ports-blocked | tor-drop-4789)
      nsx "$ID-spine" nft delete table inet "vxlab_$1" 2>/dev/null || true ;;
    tor-gray-loss) nsx "$ID-torA" nft delete table bridge vxlab_gray 2>/dev/null || true ;;
    host-fw-vxlan) nsx "$ID-n3" nft delete table inet filter 2>/dev/null || true ;;
    mtu-blackhole) ip -n "$ID-torB" link set p-n4 mtu 1500 ;;
    mtu-fragneeded)
      ip -n "$ID-n4" link set eth0 mtu 1500
      ip -n "$ID-spine" route del 10.200.2.14/32 2>/dev/null || true
      ;;
    fdb-nat) bridge -n "$ID-n1" fdb replace "$(mac_flannel n3)" dev flannel.1 dst "$(ul n3)" self permanent ;;
    dup-vtep)
      for n in "${NODES[@]}"; do
        ip -n "$ID-$n" link del nat0 2>/dev/null || true
        recreate_flannel "$n" "$(ul "$n")" eth0
      done
      ;;
    missing-gwbridge)
      if ! ip -n "$ID-n2" link show docker_gwbridge >/dev/null 2>&1; then
        { gwbridge_node n2; echo "link set vethgw master docker_gwbridge up"; } | ipb "$ID-n2"
      fi
      ;;
    vni-mismatch | dstport-mismatch) recreate_docker_vtep n4 256 4789 ;;
    neighbor-missing)
      ip -n "$ID-n1-ov" neigh replace "$(ctr_ip n3)" lladdr "$(mac_ctr n3)" dev vxlan0 nud permanent ;;
    vtep-down) # setting a device down drops its neighbor entries, even PERMANENT ones: reprogram them
      docker_vtep_ov n2 | ipb "$ID-n2-ov"
      docker_vtep_fdb n2 | brb "$ID-n2-ov"
      ;;
    subnet-overlap) ip -n "$ID-n1" route del 10.0.0.0/16 2>/dev/null || true ;;
    node-isolated) ip -n "$ID-torB" link set p-n4 up ;;
  esac
}
do_fault() {
  local name=${1:?fault needs a name (known: ${FAULT_NAMES[*]})}
  [ -d "$RUN" ] || die "fault: lab is not up"
  local f known=0
  for f in "${FAULT_NAMES[@]}"; do [ "$f" = "$name" ] && known=1; done
  [ $known = 1 ] || die "unknown fault '$name' (known: ${FAULT_NAMES[*]})"
  if grep -qx "$name" "$RUN/faults" 2>/dev/null; then return 0; fi
  fault_apply "$name"
  echo "$name" >>"$RUN/faults"
}
do_clear() {
  [ -d "$RUN" ] || die "clear: lab is not up"
  local f ns
  if [ -s "$RUN/faults" ]; then
    # undo in reverse order of application
    for f in $(tac "$RUN/faults"); do fault_revert "$f"; done
  fi
  : >"$RUN/faults"
  # learned path MTUs survive ~10 min and ARP failures linger: start every test from clean caches
  for ns in $(all_ns); do
    printf 'route flush cache\nneigh flush all\n' | ip -n "$ns" -force -b - >/dev/null 2>&1 || true
  done
  settle
}

# ---------- main ----------
main() {
local cmd=${1:-} node
[ $# -gt 0 ] && shift
case "$cmd" in
  up) do_up ;;
  down) do_down ;;
  status) do_status ;;
  relay) do_relay "${1:?relay needs a port}" ;;
  fault) do_fault "${1:-}" ;;
  clear) do_clear ;;
  exec)
    node=${1:?exec needs a node}
    shift
    [ $# -gt 0 ] || die "exec needs a command"
    ns_exists "$ID-$node" || die "no namespace $ID-$node"
    exec ip netns exec "$ID-$node" "$@"
    ;;
  *)
    echo "usage: lab.sh [--id ID] up|down|status|clear|fault NAME|relay PORT|exec NODE CMD..." >&2
    echo "faults: ${FAULT_NAMES[*]}" >&2
    exit 2
    ;;
esac
}
# One line, read whole before it runs: editing this file cannot change a run already under way.
main "$@"; exit $?

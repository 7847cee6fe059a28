#!/usr/bin/env bash
# vxdoctor routed lab fabric: hosts behind top-of-rack ROUTERS, two spine routers, ECMP between
# every ToR and both spines (multipath routes, L4 hash: net.ipv4.fib_multipath_hash_policy=1 set
# inside the router namespaces only), TTL decremented at every hop, ICMP time-exceeded on (the
# kernel default), a kernel VXLAN overlay (UDP 4789) between all hosts across the fabric.
#
#   bash test/lab/fabric.sh [--id ID] up [RACKS] [HOSTS] [--l2] | down | clear | fault NAME | describe | relay PORT
#
# RACKS (2-4, default 3) racks of HOSTS (1-3, default 1) hosts. --l2 builds the same hosts on one
# flat bridge (no router anywhere: no hop can answer a walk). Namespaces: ID-sp1 ID-sp2 ID-tor<k>
# ID-h<k><i>; state in /run/ID. Links only ever inside lab namespaces; the host's sysctls and
# interfaces are never touched.
#
# Addresses: host h<k><i> eth0 10.64.<k>.<10+i>/24, gateway 10.64.<k>.1 (ToR k);
# ToR k uplink to spine s: 10.66.<k>.<4s+1>/30, spine side 10.66.<k>.<4s+2>;
# overlay vx0 (VNI 4242, port 4789) 10.77.<k>.<i>/16.
#
# Faults (one at a time; clear undoes):
#   spine-drop-vxlan   spine 1 drops UDP 4789 in its forward path: flows hashed to it fail
#   tor-uplink-vxlan   ToR 1 drops UDP 4789 leaving on its uplinks (rack 1 cannot send VXLAN out)
#   spine-mtu          the link spine 1 <-> ToR 2 has MTU 1454: spine 1 answers frag-needed
set -euo pipefail

ID=${VXLAB_ID:-fab}
if [ "${1:-}" = --id ]; then
  ID=${2:?--id needs a value}
  shift 2
fi
if ! [[ $ID =~ ^[a-z]{3,4}$ ]]; then
  echo "fabric: id must be 3-4 lowercase letters, got '$ID'" >&2
  exit 2
fi
RUN=/run/$ID
VNI=4242
FAULT_NAMES=(spine-drop-vxlan tor-uplink-vxlan spine-mtu)

die() {
  echo "fabric($ID): $*" >&2
  exit 1
}
nsx() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}
ipb() { ip -n "$1" -b -; }
existing_ns() { ip netns list | awk -v p="$ID-" 'index($1, p) == 1 {print $1}'; }
quiet_sysctls=(net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0)
bridge_sysctls=(net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0
  net.bridge.bridge-nf-call-arptables=0)
mac_host() { printf '02:64:00:00:%02x:%02x' "$1" "$2"; }
mac_vx() { printf '02:77:00:00:%02x:%02x' "$1" "$2"; }

load_env() {
  [ -f "$RUN/fabric.env" ] || die "not up (no $RUN/fabric.env)"
  # shellcheck disable=SC1091
  . "$RUN/fabric.env"
}

hosts() { # prints "k i" per host
  local k i
  for k in $(seq "$RACKS"); do for i in $(seq "$HOSTS"); do echo "$k $i"; done; done
}

kill_relay() {
  local f=$RUN/relay.pids pid kid
  [ -f "$f" ] || return 0
  for pid in $(cat "$f"); do
    # socat forks one child per connection; only processes whose command line names our run dir
    for kid in $(pgrep -P "$pid" 2>/dev/null || true) $pid; do
      if [ -r "/proc/$kid/cmdline" ] && tr '\0' ' ' <"/proc/$kid/cmdline" | grep -q "$RUN/"; then
        kill "$kid" 2>/dev/null || true
      fi
    done
  done
  rm -f "$f"
}

# Agents in the hosts reach a nats-server on 127.0.0.1:PORT of the root namespace at
# nats://127.0.0.1:4222 (a unix socket in /run/ID bridges the namespaces: no lab traffic leaves).
do_relay() {
  local port=$1 k i ok
  [[ $port =~ ^[0-9]+$ ]] && [ "$port" -gt 0 ] && [ "$port" -lt 65536 ] || die "relay: bad port '$port'"
  load_env
  kill_relay
  rm -f "$RUN/nats.sock"
  socat "UNIX-LISTEN:$RUN/nats.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$port" </dev/null >>"$RUN/relay.log" 2>&1 &
  echo $! >>"$RUN/relay.pids"
  while read -r k i; do
    ip netns exec "$ID-h$k$i" socat TCP-LISTEN:4222,bind=127.0.0.1,reuseaddr,fork "UNIX-CONNECT:$RUN/nats.sock" \
      </dev/null >>"$RUN/relay.log" 2>&1 &
    echo $! >>"$RUN/relay.pids"
  done < <(hosts)
  for _ in $(seq 100); do
    ok=1
    [ -S "$RUN/nats.sock" ] || ok=0
    while read -r k i; do
      ip netns exec "$ID-h$k$i" ss -Hltn 'sport = :4222' | grep -q . || ok=0
    done < <(hosts)
    [ $ok = 1 ] && return 0
    sleep 0.05
  done
  die "relay: listeners did not come up within 5 s"
}

do_down() {
  kill_relay
  local nss m
  nss=$(existing_ns)
  if [ -n "$nss" ]; then
    # shellcheck disable=SC2001
    sed 's/^/netns del /' <<<"$nss" | ip -force -b - >/dev/null 2>&1 || true
    for m in $(existing_ns); do ip netns del "$m" 2>/dev/null || true; done
  fi
  rm -rf "$RUN"
}

host_up() { # k i gateway-or-empty
  local k=$1 i=$2 gw=$3 N=$ID-h$1$2
  local k2 i2
  {
    echo "link set lo up"
    echo "link set eth0 address $(mac_host "$k" "$i") up"
    echo "addr add 10.64.$k.$((10 + i))/$([ -n "$gw" ] && echo 24 || echo 16) dev eth0"
    [ -n "$gw" ] && echo "route add default via $gw dev eth0"
    echo "link add vx0 address $(mac_vx "$k" "$i") type vxlan id $VNI dstport 4789 local 10.64.$k.$((10 + i)) dev eth0 nolearning"
    echo "link set vx0 mtu 1450 up"
    echo "addr add 10.77.$k.$i/16 dev vx0"
    while read -r k2 i2; do
      [ "$k2$i2" = "$k$i" ] && continue
      echo "neigh replace 10.77.$k2.$i2 lladdr $(mac_vx "$k2" "$i2") dev vx0 nud permanent"
    done < <(hosts)
  } | ipb "$N"
  while read -r k2 i2; do
    [ "$k2$i2" = "$k$i" ] && continue
    echo "fdb replace $(mac_vx "$k2" "$i2") dev vx0 dst 10.64.$k2.$((10 + i2)) self permanent"
  done < <(hosts) | bridge -n "$N" -b -
}

do_up() {
  local l2=0 args=()
  for a in "$@"; do if [ "$a" = --l2 ]; then l2=1; else args+=("$a"); fi; done
  RACKS=${args[0]:-3}
  HOSTS=${args[1]:-1}
  [[ $RACKS =~ ^[2-4]$ ]] || die "RACKS must be 2-4, got '$RACKS'"
  [[ $HOSTS =~ ^[1-3]$ ]] || die "HOSTS must be 1-3, got '$HOSTS'"
  do_down
  mkdir -p "$RUN"
  printf 'RACKS=%s\nHOSTS=%s\nL2=%s\n' "$RACKS" "$HOSTS" "$l2" >"$RUN/fabric.env"
  local k i s j
  while read -r k i; do ip netns add "$ID-h$k$i"; done < <(hosts)
  if [ $l2 = 1 ]; then
    ip netns add "$ID-sw"
    nsx "$ID-sw" sysctl -q -e -w "${quiet_sysctls[@]}" "${bridge_sysctls[@]}" >/dev/null
    printf 'link set lo up\nlink add br0 type bridge\nlink set br0 up\n' | ipb "$ID-sw"
    while read -r k i; do
      nsx "$ID-h$k$i" sysctl -q -e -w "${quiet_sysctls[@]}" >/dev/null
      ip -n "$ID-sw" link add "p$k$i" type veth peer name eth0 netns "$ID-h$k$i"
      ip -n "$ID-sw" link set "p$k$i" master br0 up
      host_up "$k" "$i" ""
    done < <(hosts)
    echo up >"$RUN/state"
    return 0
  fi
  local routers=("$ID-sp1" "$ID-sp2")
  for k in $(seq "$RACKS"); do routers+=("$ID-tor$k"); done
  for r in "${routers[@]}"; do
    ip netns add "$r"
    # icmp_ratelimit=0: the lab tests walk all 16 flows of a path back to back; a real router
    # rate-limits its ICMP (Linux: 1/s per destination after a burst of 6), which is why the agent
    # walks only a few flows per round.
    nsx "$r" sysctl -q -e -w "${quiet_sysctls[@]}" "${bridge_sysctls[@]}" net.ipv4.ip_forward=1 \
      net.ipv4.fib_multipath_hash_policy=1 net.ipv4.icmp_ratelimit=0 >/dev/null
    echo "link set lo up" | ipb "$r"
  done
  for k in $(seq "$RACKS"); do
    {
      echo "link add hosts type bridge"
      echo "addr add 10.64.$k.1/24 dev hosts"
      echo "link set hosts up"
      for s in 1 2; do
        echo "link add up$s type veth peer name d$k netns $ID-sp$s"
        echo "addr add 10.66.$k.$((4 * s + 1))/30 dev up$s"
        echo "link set up$s up"
      done
    } | ipb "$ID-tor$k"
    for s in 1 2; do
      printf 'addr add 10.66.%s.%s/30 dev d%s\nlink set d%s up\n' "$k" $((4 * s + 2)) "$k" "$k" | ipb "$ID-sp$s"
    done
  done
  # ECMP: every ToR reaches every other rack through both spines (L4 hash); spines route per rack.
  for k in $(seq "$RACKS"); do
    for j in $(seq "$RACKS"); do
      [ "$j" = "$k" ] && continue
      ip -n "$ID-tor$k" route add "10.64.$j.0/24" nexthop via "10.66.$k.6" dev up1 nexthop via "10.66.$k.10" dev up2
    done
    for s in 1 2; do ip -n "$ID-sp$s" route add "10.64.$k.0/24" via "10.66.$k.$((4 * s + 1))" dev "d$k"; done
  done
  while read -r k i; do
    # the hosts answer port-unreachable at the end of a control walk: not rate-limited either
    nsx "$ID-h$k$i" sysctl -q -e -w "${quiet_sysctls[@]}" net.ipv4.icmp_ratelimit=0 >/dev/null
    ip -n "$ID-tor$k" link add "h$i" type veth peer name eth0 netns "$ID-h$k$i"
    ip -n "$ID-tor$k" link set "h$i" master hosts up
    host_up "$k" "$i" "10.64.$k.1"
  done < <(hosts)
  : >"$RUN/faults"
  echo up >"$RUN/state"
}

nft_drop() { # ns rule...
  local ns=$1
  shift
  nsx "$ns" nft -f - <<EOF
table inet vxfabfault {
  chain forward_drop {
    type filter hook forward priority 0; policy accept;
    $*
  }
}
EOF
}

do_clear() {
  load_env
  [ "$L2" = 1 ] && return 0
  local ns
  for ns in $(existing_ns); do
    nsx "$ns" nft delete table inet vxfabfault 2>/dev/null || true
  done
  ip -n "$ID-sp1" link set d2 mtu 1500
  ip -n "$ID-tor2" link set up1 mtu 1500
  for ns in $(existing_ns); do ip -n "$ns" route flush cache 2>/dev/null || true; done
  : >"$RUN/faults"
}

do_fault() {
  load_env
  [ "$L2" = 1 ] && die "the --l2 variant has no routers to put a fault on"
  case "$1" in
    spine-drop-vxlan) nft_drop "$ID-sp1" 'udp dport 4789 counter drop' ;;
    tor-uplink-vxlan) nft_drop "$ID-tor1" 'oifname { "up1", "up2" } udp dport 4789 counter drop' ;;
    spine-mtu)
      ip -n "$ID-sp1" link set d2 mtu 1454
      ip -n "$ID-tor2" link set up1 mtu 1454
      ;;
    *) die "unknown fault '$1' (known: ${FAULT_NAMES[*]})" ;;
  esac
  echo "$1" >>"$RUN/faults"
}

# One line per namespace: kind, name, then its addresses (for the TypeScript helper).
do_describe() {
  load_env
  local ns
  for ns in $(existing_ns | sort); do
    printf '%s %s\n' "$ns" "$(ip -n "$ns" -4 -o addr show | awk '$2 != "lo" {sub(/\/.*/, "", $4); printf "%s ", $4}')"
  done
}

cmd=${1:-}
shift || true
case "$cmd" in
  up) do_up "$@" ;;
  down) do_down ;;
  clear) do_clear ;;
  fault) do_fault "${1:?fault needs a name}" ;;
  describe) do_describe ;;
  relay) do_relay "${1:?relay needs a port}" ;;
  *) die "usage: fabric.sh [--id ID] up [RACKS] [HOSTS] [--l2] | down | clear | fault NAME | describe" ;;
esac

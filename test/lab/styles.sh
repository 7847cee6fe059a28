#!/usr/bin/env bash
# Lab nodes per VXLAN overlay style: two nodes (ID-n1, ID-n2) on one underlay switch (ID-sw),
# each with one pod, its VTEP built the way that overlay's own agent builds it (flags, VNI, port,
# MTU, FDB/neighbor/route programming), and reversible faults.
#
#   bash test/lab/styles.sh ID up STYLE | down | fault NAME | clear
#
# STYLE: docker (a libnetwork-style sandbox under a non-standard name and exec-root), flannel,
# calico, cilium, weave, antrea, unknown. NAME: vtep-down, detached, wrong-port, wrong-vni,
# mtu-small (each on n1). Everything lives in namespaces ID-* and /run/ID-styles.
#
# Stand-ins, as this kernel has no openvswitch module: Weave's ODP datapath `datapath` and
# Antrea's gateway `antrea-gw0` (an OVS internal port) are Linux bridges with the MTU the real ones
# get; the VXLAN devices themselves are what the real datapaths create (collect-metadata, port).
set -euo pipefail

ID=${1:?usage: styles.sh ID up STYLE|down|fault NAME|clear}
shift
[[ $ID =~ ^[a-z]{3,4}$ ]] || { echo "styles: id must be 3-4 lowercase letters" >&2; exit 2; }
RUN=/run/$ID-styles
NODES=(n1 n2)

num() { echo "${1#n}"; }
other() { if [ "$1" = n1 ]; then echo n2; else echo n1; fi; }
ul() { echo "10.231.0.1$(num "$1")"; }
hx() { printf '%02x' $((10 + $(num "$1"))); }
vmac() { echo "0e:5$2:00:00:00:$(hx "$1")"; } # VTEP MAC per style digit
ipn() { ip -n "$ID-$1" "${@:2}"; }
bridgen() { bridge -n "$ID-$1" "${@:2}"; }

style() { cat "$RUN/style"; }

down() {
  for m in $(awk -v r="$RUN" 'index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  rm -rf "$RUN"
  for ns in $(ip netns list | awk -v p="$ID-" 'index($1, p) == 1 {print $1}'); do ip netns del "$ns" 2>/dev/null || true; done
}

mkns() {
  ip netns add "$ID-$1"
  ip netns exec "$ID-$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 >/dev/null
  ipn "$1" link set lo up
}

# A pod namespace ID-<node>-p with eth0 <-> host-side veth $2 (in namespace $3, default the node).
pod() {
  local n=$1 hostdev=$2 addr=$3 mtu=$4 gw=$5 where=${6:-$ID-$1}
  mkns "$n-p"
  ipn "$n-p" link add eth0 mtu "$mtu" type veth peer name "$hostdev" mtu "$mtu" netns "$where"
  ipn "$n-p" addr add "$addr" dev eth0
  ipn "$n-p" link set eth0 up
  ipn "$n-p" route add default via "$gw" dev eth0 onlink
  ip -n "$where" link set "$hostdev" up
  mkdir -p "$RUN/$n/netns"
  touch "$RUN/$n/netns/pod"
  mount --bind "/run/netns/$ID-$n-p" "$RUN/$n/netns/pod"
}

# (Re)creates node N's VTEP of the lab's style with PORT and VNI, and programs what that
# overlay's agent programs for the other node.
vtep() {
  local n=$1 port=$2 vni=$3 o i j
  o=$(other "$n")
  i=$(num "$n")
  j=$(num "$o")
  case $(style) in
    flannel) # flannel vxlan backend: flannel.<VNI>, nolearning, local = public IP, kernel port
      ipn "$n" link del "flannel.1" 2>/dev/null || true
      ipn "$n" link add flannel.1 address "$(vmac "$n" 1)" type vxlan id "$vni" dstport "$port" \
        local "$(ul "$n")" dev eth0 nolearning
      ipn "$n" link set flannel.1 mtu 1450 up
      ipn "$n" addr add "10.244.$i.0/32" dev flannel.1
      ipn "$n" route replace "10.244.$j.0/24" via "10.244.$j.0" dev flannel.1 onlink
      ipn "$n" neigh replace "10.244.$j.0" lladdr "$(vmac "$o" 1)" dev flannel.1 nud permanent
      bridgen "$n" fdb replace "$(vmac "$o" 1)" dev flannel.1 dst "$(ul "$o")" self permanent
      ;;
    calico) # felix vxlan manager: vxlan.calico, VNI 4096, port 4789, nolearning, /32 tunnel address
      ipn "$n" link del vxlan.calico 2>/dev/null || true
      ipn "$n" link add vxlan.calico address "$(vmac "$n" 2)" type vxlan id "$vni" dstport "$port" \
        local "$(ul "$n")" dev eth0 nolearning
      ipn "$n" link set vxlan.calico mtu 1450 up
      ipn "$n" addr add "10.250.$i.0/32" dev vxlan.calico
      ipn "$n" route replace "10.250.$j.0/26" via "10.250.$j.0" dev vxlan.calico onlink
      ipn "$n" neigh replace "10.250.$j.0" lladdr "$(vmac "$o" 2)" dev vxlan.calico nud permanent
      bridgen "$n" fdb replace "$(vmac "$o" 2)" dev vxlan.calico dst "$(ul "$o")" self permanent
      ;;
    cilium) # cilium_vxlan: collect-metadata, port 8472; pod routes via cilium_host carry the MTU
      ipn "$n" link del cilium_vxlan 2>/dev/null || true
      ipn "$n" link add cilium_vxlan address "$(vmac "$n" 3)" type vxlan external dstport "$port"
      ipn "$n" link set cilium_vxlan up
      ipn "$n" route replace "10.0.$j.0/24" dev cilium_host src "10.0.$i.1" mtu 1450
      ;;
    weave) # vxlan-<weave port + 1>: an ODP vxlan vport, collect-metadata, in the datapath
      ipn "$n" link del vxlan-6784 2>/dev/null || true
      ipn "$n" link add vxlan-6784 address "$(vmac "$n" 4)" type vxlan external dstport "$port"
      ipn "$n" link set vxlan-6784 mtu 65485 master datapath up
      ;;
    antrea) # OVS vxlan tunnel port: kernel device vxlan_sys_<port>, collect-metadata
      ipn "$n" link del vxlan_sys_4789 2>/dev/null || true
      ipn "$n" link add vxlan_sys_4789 address "$(vmac "$n" 5)" type vxlan external dstport "$port"
      ipn "$n" link set vxlan_sys_4789 mtu 65000 up
      ipn "$n" route replace "10.10.$j.0/24" via "10.10.$j.1" dev antrea-gw0 onlink
      ;;
    docker) # libnetwork: created in the host namespace, moved into the sandbox, in br0
      local sb=$ID-$n-sbx
      ip -n "$sb" link del vxlan0 2>/dev/null || true
      ipn "$n" link add vxlan0 address "$(vmac "$n" 6)" type vxlan id "$vni" dstport "$port" learning proxy l2miss l3miss
      ipn "$n" link set vxlan0 mtu 1450 netns "$sb"
      ip -n "$sb" link set vxlan0 master br0 up
      ip -n "$sb" neigh replace "10.0.9.1$j" lladdr "02:42:0a:00:09:$(hx "$o")" dev vxlan0 nud permanent
      bridge -n "$sb" fdb replace "02:42:0a:00:09:$(hx "$o")" dev vxlan0 dst "$(ul "$o")" self permanent
      ;;
    unknown) # some other agent's VTEP: own VNI, a local address, learning on, its own port
      ipn "$n" link del vx-ovl 2>/dev/null || true
      ipn "$n" link add vx-ovl address "$(vmac "$n" 7)" type vxlan id "$vni" dstport "$port" local "$(ul "$n")"
      ipn "$n" link set vx-ovl mtu 1400 up
      ipn "$n" addr add "10.77.0.$i/24" dev vx-ovl
      bridgen "$n" fdb append 00:00:00:00:00:00 dev vx-ovl dst "$(ul "$o")" self permanent
      ;;
  esac
}

default_port() {
  case $(style) in flannel | cilium) echo 8472 ;; weave) echo 6784 ;; unknown) echo 9100 ;; *) echo 4789 ;; esac
}
default_vni() {
  case $(style) in flannel) echo 1 ;; calico) echo 4096 ;; docker) echo 4097 ;; unknown) echo 42 ;; *) echo 0 ;; esac
}

node_up() {
  local n=$1 i
  i=$(num "$n")
  mkns "$n"
  ip netns exec "$ID-$n" sysctl -q -w net.ipv4.ip_forward=1 >/dev/null
  ip -n "$ID-sw" link add "p-$n" type veth peer name eth0 netns "$ID-$n"
  ip -n "$ID-sw" link set "p-$n" master br-sw up
  ipn "$n" addr add "$(ul "$n")/24" dev eth0
  ipn "$n" link set eth0 up
  ipn "$n" route add default via 10.231.0.254 dev eth0 onlink
  mkdir -p "$RUN/$n/netns"
  case $(style) in
    flannel)
      ipn "$n" link add cni0 type bridge
      ipn "$n" link set cni0 mtu 1450 up
      ipn "$n" addr add "10.244.$i.1/24" dev cni0
      pod "$n" "veth-$n" "10.244.$i.2/24" 1450 "10.244.$i.1"
      ipn "$n" link set "veth-$n" master cni0
      ;;
    calico)
      pod "$n" "cali$i" "10.250.$i.5/32" 1450 169.254.1.1
      ipn "$n" route add "10.250.$i.5" dev "cali$i" scope link
      ;;
    cilium)
      ipn "$n" link add cilium_host type veth peer name cilium_net
      ipn "$n" link set cilium_net up
      ipn "$n" link set cilium_host up
      ipn "$n" addr add "10.0.$i.1/32" dev cilium_host
      pod "$n" "lxc$i" "10.0.$i.5/32" 1450 "10.0.$i.1"
      ;;
    weave)
      ipn "$n" link add weave type bridge
      ipn "$n" link set weave mtu 1410 up
      ipn "$n" addr add "10.32.$i.1/12" dev weave
      ipn "$n" link add datapath type bridge
      ipn "$n" link set datapath mtu 1410 up
      ipn "$n" link add vethwe-bridge mtu 1410 type veth peer name vethwe-datapath mtu 1410
      ipn "$n" link set vethwe-bridge master weave up
      ipn "$n" link set vethwe-datapath master datapath up
      pod "$n" "vethwepl$i" "10.32.$i.5/12" 1410 "10.32.$i.1"
      ipn "$n" link set "vethwepl$i" master weave
      ;;
    antrea)
      ipn "$n" link add antrea-gw0 type bridge
      ipn "$n" link set antrea-gw0 mtu 1450 up
      ipn "$n" addr add "10.10.$i.1/24" dev antrea-gw0
      pod "$n" "pod$i-8e2c" "10.10.$i.5/24" 1450 "10.10.$i.1"
      ;;
    docker)
      # The sandbox under a name and an exec-root that are not Docker's defaults.
      mkns "$n-sbx"
      ip -n "$ID-$n-sbx" link add br0 type bridge
      ip -n "$ID-$n-sbx" addr add 10.0.9.1/24 dev br0
      ip -n "$ID-$n-sbx" link set br0 mtu 1450 up
      pod "$n" veth0 "10.0.9.1$i/24" 1450 10.0.9.1 "$ID-$n-sbx"
      ip -n "$ID-$n-sbx" link set veth0 master br0
      ipn "$n" link add docker_gwbridge type bridge
      ipn "$n" addr add 172.18.0.1/16 dev docker_gwbridge
      ipn "$n" link set docker_gwbridge up
      mkdir -p "$RUN/$n/engine-x/netns"
      touch "$RUN/$n/engine-x/netns/blue-net"
      mount --bind "/run/netns/$ID-$n-sbx" "$RUN/$n/engine-x/netns/blue-net"
      ;;
  esac
  vtep "$n" "$(default_port)" "$(default_vni)"
}

vtep_dev() {
  case $(style) in
    flannel) echo flannel.1 ;; calico) echo vxlan.calico ;; cilium) echo cilium_vxlan ;;
    weave) echo vxlan-6784 ;; antrea) echo vxlan_sys_4789 ;; docker) echo vxlan0 ;; unknown) echo vx-ovl ;;
  esac
}
vtep_ns() { if [ "$(style)" = docker ]; then echo "$ID-n1-sbx"; else echo "$ID-n1"; fi; }

cmd=${1:-}
shift || true
case $cmd in
  up)
    s=${1:?up needs a style}
    down
    mkdir -p "$RUN"
    echo "$s" >"$RUN/style"
    mkns sw
    ip -n "$ID-sw" link add br-sw type bridge
    ip -n "$ID-sw" link set br-sw up
    for n in "${NODES[@]}"; do node_up "$n"; done
    ;;
  down) down ;;
  fault)
    f=${1:?fault needs a name}
    case $f in
      vtep-down) ip -n "$(vtep_ns)" link set "$(vtep_dev)" down ;;
      detached) ip -n "$(vtep_ns)" link set "$(vtep_dev)" nomaster ;;
      wrong-port) vtep n1 $(($(default_port) + 1)) "$(default_vni)" ;;
      wrong-vni) vtep n1 "$(default_port)" $(($(default_vni) + 1)) ;;
      # One byte short of what the overlay needs (its MTU + 50); Weave: the seed's cloud NIC, 1454.
      mtu-small) case $(style) in weave) ipn n1 link set eth0 mtu 1454 ;; unknown) ipn n1 link set eth0 mtu 1449 ;; *) ipn n1 link set eth0 mtu 1499 ;; esac ;;
      *) echo "styles: unknown fault $f" >&2; exit 2 ;;
    esac
    ;;
  clear)
    ipn n1 link set eth0 mtu 1500
    vtep n1 "$(default_port)" "$(default_vni)"
    ;;
  *) echo "usage: styles.sh ID up STYLE|down|fault NAME|clear" >&2; exit 2 ;;
esac

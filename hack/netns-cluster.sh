#!/bin/bash
# netns-cluster.sh: a three-node Skiff cluster on one machine, each node in
# a network namespace of its own, joined by a bridge (run as root).
#
#   hack/netns-cluster.sh up [--flannel-backend vxlan|host-gw]
#   hack/netns-cluster.sh exec CMD...   # run CMD "outside" the cluster,
#                                       # e.g. kubectl get nodes
#   hack/netns-cluster.sh down
#
# up starts `skiff server` (with its own node, srv) in namespace skiff-srv
# at 172.31.0.1 and `skiff agent`s a1 and a2 in skiff-a1 (172.31.0.2) and
# skiff-a2 (172.31.0.3); a fourth namespace, skiff-client (172.31.0.9),
# stands for a machine outside the cluster, where exec runs commands with
# KUBECONFIG set. Image tarballs in $IMAGES (a directory) are imported on
# every node. $SKIFF_NETNS_DIR (default /tmp/skiff-netns) keeps data and
# logs.
set -euo pipefail
cmd=${1:-}
shift || true
DIR=${SKIFF_NETNS_DIR:-/tmp/skiff-netns}
BIN=${SKIFF_BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin/skiff}
BR=skiff-br0
NET=172.31.0
NODES=(srv a1 a2)
declare -A IP=([srv]=$NET.1 [a1]=$NET.2 [a2]=$NET.3 [client]=$NET.9)

netns() { [[ -e /run/netns/skiff-$1 ]]; }
in_ns() { local n=$1; shift; nsenter --net=/run/netns/skiff-"$n" "$@"; }

up() {
	local backend=vxlan
	while [[ $# -gt 0 ]]; do
		case $1 in
		--flannel-backend) backend=$2; shift 2 ;;
		*) echo "unknown flag $1" >&2; exit 2 ;;
		esac
	done
	[[ -x $BIN ]] || { echo "no skiff binary at $BIN (make build, or set SKIFF_BIN)" >&2; exit 1; }
	mkdir -p "$DIR"
	ip link show "$BR" >/dev/null 2>&1 || {
		ip link add "$BR" type bridge
		ip link set "$BR" type bridge nf_call_iptables 0
		ip link set "$BR" up
	}
	local i=0
	for n in "${NODES[@]}" client; do
		i=$((i + 1))
		if ! netns "$n"; then
			ip netns add "skiff-$n"
			ip link add "skiff-v$i" type veth peer name eth0 netns "skiff-$n"
			ip link set "skiff-v$i" master "$BR" up
			ip -n "skiff-$n" addr add "${IP[$n]}/24" dev eth0
			ip -n "skiff-$n" link set eth0 up
			ip -n "skiff-$n" link set lo up
			# Nodes route what they do not know to the client namespace,
			# which forwards nothing: traffic stays in the namespaces.
			[[ $n == client ]] || ip -n "skiff-$n" route add default via "${IP[client]}"
		fi
		if [[ $n != client && -n ${IMAGES:-} ]]; then
			mkdir -p "$DIR/$n/agent/images"
			cp "$IMAGES"/*.tar "$DIR/$n/agent/images/"
		fi
	done
	in_ns srv "$BIN" server --data-dir "$DIR/srv" --node-name srv --bind-address "${IP[srv]}" \
		--advertise-address "${IP[srv]}" --flannel-backend "$backend" \
		>"$DIR/srv.log" 2>&1 &
	echo $! >"$DIR/srv.pid"
	for _ in $(seq 300); do [[ -s $DIR/srv/token && -s $DIR/srv/admin.kubeconfig ]] && break; sleep 0.2; done
	for n in a1 a2; do
		in_ns "$n" "$BIN" agent --server "https://${IP[srv]}:6443" --token "$(cat "$DIR/srv/token")" \
			--data-dir "$DIR/$n" --node-name "$n" --node-ip "${IP[$n]}" --cgroup-root "/skiff-$n" \
			>"$DIR/$n.log" 2>&1 &
		echo $! >"$DIR/$n.pid"
	done
	export KUBECONFIG=$DIR/srv/admin.kubeconfig
	for _ in $(seq 120); do
		[[ $(in_ns client kubectl get nodes --no-headers 2>/dev/null | wc -l) -ge 3 ]] && break
		sleep 1
	done
	in_ns client kubectl wait --for=condition=Ready node --all --timeout=120s
	echo "cluster up; logs in $DIR; try: $0 exec kubectl get nodes -o wide"
}

down() {
	for n in a2 a1 srv; do
		[[ -f $DIR/$n.pid ]] || continue
		kill -TERM "$(cat "$DIR/$n.pid")" 2>/dev/null || true
		for _ in $(seq 150); do kill -0 "$(cat "$DIR/$n.pid")" 2>/dev/null || break; sleep 0.2; done
		rm -f "$DIR/$n.pid"
	done
	for n in "${NODES[@]}" client; do
		if netns "$n"; then
			for pid in $(ip netns pids "skiff-$n"); do kill -KILL "$pid" 2>/dev/null || true; done
			ip netns delete "skiff-$n"
		fi
	done
	# Pods outlive their agent (as k3s's do): kill their shims and so
	# their containers, which would keep the namespaces alive.
	pkill -KILL -f "containerd-shim.*$DIR/" 2>/dev/null || true
	for i in 1 2 3 4; do ip link delete "skiff-v$i" 2>/dev/null || true; done
	ip link delete "$BR" 2>/dev/null || true
	echo "cluster down; data left in $DIR"
}

case $cmd in
up) up "$@" ;;
down) down ;;
exec) KUBECONFIG=$DIR/srv/admin.kubeconfig in_ns client "$@" ;;
*) sed -n '2,17p' "$0"; exit 2 ;;
esac

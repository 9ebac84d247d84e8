#!/bin/bash
# Installs what Skiff's build, cluster and tests need on a fresh Debian
# machine, as root. Packages already present are left alone.
set -euo pipefail

packages=(
	etcd-server # external-datastore tests run a real etcd
	ca-certificates
	procps
	# The node agent: containerd (with ctr), runc, CNI plugins and the
	# iptables portmap and masquerading need; busybox-static builds the
	# node suite's test image.
	containerd
	runc
	containernetworking-plugins
	iptables
	# The service proxy programs nftables with nft; conntrack clears stale
	# UDP flows when an endpoint goes away.
	nftables
	conntrack
	busybox-static
)

missing=()
for p in "${packages[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
fi
# Debian starts etcd-server and containerd as services on install; tests
# and the agent run their own.
if command -v systemctl >/dev/null 2>&1; then
	for svc in etcd containerd; do
		if systemctl is-active --quiet "$svc" 2>/dev/null; then
			systemctl stop "$svc" || true
		fi
	done
fi

command -v go >/dev/null || { echo "deps: Go is required (/usr/local/go/bin/go)" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "deps: kubectl is required for the end-to-end tests" >&2; exit 1; }

#!/bin/bash
# Installs what Skiff's build, cluster and tests need on a fresh Debian
# machine, as root. Packages already present are left alone.
set -euo pipefail

packages=(
	etcd-server # external-datastore tests run a real etcd
	ca-certificates
	procps
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
# Debian starts etcd-server as a service on install; tests run their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
	systemctl stop etcd || true
fi

command -v go >/dev/null || { echo "deps: Go is required (/usr/local/go/bin/go)" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "deps: kubectl is required for the end-to-end tests" >&2; exit 1; }

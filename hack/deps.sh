#!/bin/bash
# Installs what Skiff's build, cluster and tests need on a fresh Debian
# machine, as root. Packages already present are left alone.
#
#   hack/deps.sh         everything `make test` needs (kubectl required)
#   hack/deps.sh --run   what `make run` needs (kubectl only recommended)
#
# Two things Debian cannot always provide make it stop with a message
# saying what to install by hand: Go newer than Debian's, and kubectl
# (Debian 12's kubernetes-client is 1.20, far outside the version skew
# kubectl supports).
set -euo pipefail

mode=test
[[ "${1:-}" == --run ]] && mode=run
cd "$(dirname "$0")/.."

packages=(
	etcd-server # external-datastore tests run a real etcd
	ca-certificates
	curl # the node and multi-node suites probe HTTP from namespaces with it
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

# Go: the go.mod version or newer. GOTOOLCHAIN=local: an older go must not
# try to download a newer toolchain.
export PATH="/usr/local/go/bin:$PATH"
want_go=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
go_ok() {
	local have
	have=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null) || return 1
	dpkg --compare-versions "${have#go}" ge "$want_go"
}
if ! go_ok; then
	# Debian's golang-go, or a versioned golang-1.N-go, when new enough.
	apt-get update >/dev/null
	best= best_version=0
	for p in golang-go $(apt-cache search --names-only '^golang-1\.[0-9]+-go$' | cut -d' ' -f1); do
		v=$(apt-cache policy "$p" | sed -n 's/^ *Candidate: \(.*\)$/\1/p')
		v=${v#*:}
		v=${v%%[~+-]*}
		if [[ -n "$v" && "$v" != "(none)" ]] && dpkg --compare-versions "$v" ge "$want_go" && dpkg --compare-versions "$v" gt "$best_version"; then
			best=$p best_version=$v
		fi
	done
	if [[ -z "$best" ]]; then
		echo "deps: Go $want_go or newer is needed to build Skiff, and no Debian package has it" >&2
		echo "deps: (golang-go here is $(apt-cache policy golang-go | sed -n 's/^ *Candidate: //p')). Install Go $want_go from the Go" >&2
		echo "deps: project's release archive into /usr/local/go (tar -C /usr/local -xzf go$want_go.linux-amd64.tar.gz)," >&2
		echo "deps: then run make again." >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$best"
	if [[ "$best" != golang-go && ! -e /usr/local/go ]]; then
		v=${best#golang-}
		ln -s "/usr/lib/go-${v%-go}" /usr/local/go # what the Makefile puts on PATH
	fi
	go_ok || { echo "deps: installed $best, but go is still not Go $want_go or newer" >&2; exit 1; }
fi

# kubectl: no Debian package is new enough, and Skiff does not embed it
# (k3s does, from Kubernetes' own code, which Skiff does not depend on).
if ! command -v kubectl >/dev/null; then
	msg="kubectl is not installed: install kubectl 1.30 or newer (a release within one minor version of Kubernetes 1.37 is best) onto PATH"
	if [[ $mode == run ]]; then
		echo "deps: warning: $msg to talk to the cluster." >&2
	else
		echo "deps: $msg; the end-to-end suite also runs kubectl.1.27 ... kubectl.1.33 from PATH or /usr/lib/google-cloud-sdk/bin." >&2
		exit 1
	fi
fi

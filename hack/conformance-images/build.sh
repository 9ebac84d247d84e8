#!/bin/bash
# build.sh WORK — WORK/images/glibc-dns-testing.tar, a stand-in for upstream's
# registry.k8s.io/e2e-test-images/glibc-dns-testing:2.1.1 (the tag the v1.37.2 suite's
# test/utils/image/manifest.go asks for), which cannot be pulled here: no registry is
# reachable. The DNS specs run `sh -c` probe scripts in it that use dig, getent and
# shell tools. Contents: Debian's static busybox with its applet links (as
# ../shared/conformance/images.sh builds its busybox images), and /usr/bin/dig and
# /usr/bin/getent, links to one static Go binary (./dnsutils) that implements the dig
# and getent options those specs use. The archive is made by the kit's mkimage.sh.
set -euo pipefail
WORK=$(mkdir -p "${1:?usage: build.sh WORK}" && cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
KIT=${CONFORMANCE_KIT:-$HERE/../../../shared/conformance}
KIT=$(cd "$KIT" && pwd)
REF=registry.k8s.io/e2e-test-images/glibc-dns-testing:2.1.1
[ -x /bin/busybox ] || { echo "needs Debian's busybox-static at /bin/busybox" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

d=$W/rootfs
mkdir -p $d/bin $d/sbin $d/usr/bin $d/usr/sbin $d/etc $d/tmp $d/var/tmp $d/root $d/home $d/dev $d/proc $d/sys $d/results
chmod 1777 $d/tmp $d/var/tmp
cp /bin/busybox $d/bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf /bin/busybox $d/bin/$a; done
for p in $(/bin/busybox --list-full); do case $p in bin/*) ;; *) [ -e $d/$p ] || ln -sf /bin/busybox $d/$p ;; esac; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > $d/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > $d/etc/group
echo "hosts: files dns" > $d/etc/nsswitch.conf

(cd "$HERE/../.." && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$d/usr/bin/dnsutils" ./hack/conformance-images/dnsutils)
ln -sf dnsutils $d/usr/bin/dig
ln -sf dnsutils $d/usr/bin/getent

mkdir -p "$WORK/images"
"$KIT/mkimage.sh" "$REF" "$WORK/images/glibc-dns-testing.tar" "$d" '["sh"]'

# The kit's agnhost stand-in (busybox rootfs) lacks what the specs run in
# agnhost pods besides the agnhost binary: an nc that takes -v, -t, -u and
# -z (busybox's does not; the Service specs probe with `nc -v -t -w 2`),
# and dig and getent (the DNS specs' musl probes). Add Debian's
# netcat-openbsd (with its shared libraries, as the kit adds curl) and the
# dnsutils links to the kit's agnhost images, keeping their names, command
# and entrypoint.
if [ -x /bin/nc.openbsd ]; then
	for img in agnhost agnhost-prev; do
		tar=$WORK/images/$img.tar
		[ -f "$tar" ] || continue
		a=$W/$img
		mkdir -p $a/unpacked $a/rootfs
		tar -C $a/unpacked -xf "$tar"
		ref=$(sed -E 's/.*"RepoTags":\["([^"]+)"\].*/\1/' $a/unpacked/manifest.json)
		for layer in $(grep -o '[0-9a-f]\{64\}/layer.tar' $a/unpacked/manifest.json); do
			tar -C $a/rootfs -xf $a/unpacked/$layer
		done
		mkdir -p $a/rootfs/usr/bin
		# Replace the busybox links, never write through them.
		rm -f $a/rootfs/usr/bin/nc $a/rootfs/usr/bin/dig $a/rootfs/usr/bin/getent $a/rootfs/usr/bin/dnsutils
		cp /bin/nc.openbsd $a/rootfs/usr/bin/nc
		for lib in $(ldd /bin/nc.openbsd | grep -o '/[^ ]*'); do
			mkdir -p "$a/rootfs$(dirname "$lib")"
			rm -f "$a/rootfs$lib"
			cp -L "$lib" "$a/rootfs$lib"
		done
		# Debian's busybox sh runs its own applets before anything on PATH,
		# so a real nc could never win from `sh -c`: /bin/sh becomes dash.
		rm -f $a/rootfs/bin/sh
		cp /bin/dash $a/rootfs/bin/sh
		for lib in $(ldd /bin/dash | grep -o '/[^ ]*'); do
			mkdir -p "$a/rootfs$(dirname "$lib")"
			rm -f "$a/rootfs$lib"
			cp -L "$lib" "$a/rootfs$lib"
		done
		cp "$d/usr/bin/dnsutils" $a/rootfs/usr/bin/dnsutils
		ln -sf dnsutils $a/rootfs/usr/bin/dig
		ln -sf dnsutils $a/rootfs/usr/bin/getent
		"$KIT/mkimage.sh" "$ref" "$tar" $a/rootfs '["pause"]' '["/agnhost"]'
	done
else
	echo "build.sh: no /bin/nc.openbsd (apt-get install netcat-openbsd): agnhost keeps busybox's nc" >&2
fi

#!/bin/sh
# Builds BUILD/valk-trace_VERSION_ARCH.deb from an already built tree
# (`make deb`): `make install` into a staging root with PREFIX=/usr, the
# binary stripped, documentation compressed, Depends computed by
# dpkg-shlibdeps from the libraries the binary links. VERSION is what
# `valk-trace --version` says. DEB_MAINTAINER overrides the maintainer
# (default: the author of the last commit). The fleet kit of contrib/
# comes along: the systemd unit installed, rules and dashboard as docs.
#   usage: scripts/deb.sh BUILD
set -eu
build=$1
cd "$(dirname "$0")/.."
version=$("$build/valk-trace" --version | sed 's/^valk-trace //')
arch=$(dpkg --print-architecture)
maint=${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null || true)}
[ -n "$maint" ] || { echo "deb: set DEB_MAINTAINER='Name <address>'" >&2; exit 2; }
stage=$build/deb/valk-trace
deb=$build/valk-trace_${version}_${arch}.deb
doc=$stage/usr/share/doc/valk-trace

rm -rf "$build/deb"
make -s install BUILD="$build" DESTDIR="$stage" PREFIX=/usr
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
	"$stage/usr/sbin/valk-trace"
gzip -9n "$stage/usr/share/man/man8/valk-trace.8"
install -d -m 0755 "$doc"
gzip -9n <README.md >"$doc/README.md.gz"
# the fleet kit: the unit where systemd finds it, rules and dashboard as docs
install -D -m 0644 contrib/systemd/valk-trace@.service \
	"$stage/usr/lib/systemd/system/valk-trace@.service"
for f in contrib/README.md contrib/prometheus/* contrib/grafana/*; do
	install -D -m 0644 "$f" "$doc/$f"
done
year=$(git log -1 --format=%ad --date=format:%Y 2>/dev/null || date +%Y)
cat >"$doc/copyright" <<COPY
valk-trace: an external memory tracer for the Valkyria runtime.

Copyright (C) $year the valk-trace authors.

The source tree states no license for its userspace code. Its BPF program
(bpf/valk_trace.bpf.c) declares the license "Dual BSD/GPL"; the GPL is in
/usr/share/common-licenses/GPL-2.
COPY
date=$(git log -1 --format=%aD 2>/dev/null || date -R)
gzip -9n >"$doc/changelog.gz" <<LOG
valk-trace ($version) unstable; urgency=medium

  * Built from the source tree, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown).

 -- $maint  $date
LOG
find "$doc" -type f -exec chmod 0644 {} +

# dpkg-shlibdeps reads debian/control from its working directory
mkdir -p "$build/deb/src/debian"
printf 'Source: valk-trace\n\nPackage: valk-trace\nArchitecture: any\n' \
	>"$build/deb/src/debian/control"
bin=$(cd "$stage/usr/sbin" && pwd)/valk-trace
depends=$(cd "$build/deb/src" && dpkg-shlibdeps -O -e"$bin" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$stage/DEBIAN"
cat >"$stage/DEBIAN/control" <<CTRL
Package: valk-trace
Version: $version
Architecture: $arch
Maintainer: $maint
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Section: devel
Priority: optional
Homepage: https://github.com/djmittens/valkyria
Description: external memory tracer for the Valkyria Lisp runtime
 valk-trace attaches uprobes to an unmodified, running Valkyria ("valk")
 process, reads its present state from memory and from then on keeps an
 exact picture of every slab slot, connection, owner, arena and the GC
 heap. It serves that picture as Server-Sent Events, JSON, Prometheus
 metrics and a live dashboard in the browser.
CTRL
(cd "$stage" && find usr -type f -exec md5sum {} + >DEBIAN/md5sums)
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"

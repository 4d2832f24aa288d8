#!/bin/bash
# Build Debian's own squid source twice for the study's code change, with one difference between the two:
# HTTP_REQBUF_SZ, the size of the buffer squid 5 copies a reply through on its way to the client, and so the
# largest write() it makes to a client socket (src/defines.h: 4096). The walk of the stock squid names those
# writes (docs/squid.md); the 64 KB build writes an 8-32 KB reply in one call instead of two to eight.
#
# usage: examples/squid/build-squid.sh BUFSIZE   (4096: the source as Debian ships it; 65536: the change)
# Installs into /opt/cw-squid/BUFSIZE (squid bakes its prefix in: error pages, unlinkd) and prints the path
# of the squid binary. A build that is there already is reused. Both builds use the same lean configure
# (no auth, TLS, ICAP, ESI, SNMP helpers: none is in the study's path), so the pair differs in the buffer
# only; Debian's binary is not the baseline, its configure differs.
#
# The source comes from Debian's archive through apt-get source, with a private apt state (a deb-src twin of
# each of the system's deb sources, lists in a temp dir): the system's apt configuration is not touched.
set -eu
BUF=${1:?usage: build-squid.sh BUFSIZE}
case "$BUF" in 4096|8192|16384|32768|65536) ;; *) echo "build-squid.sh: BUFSIZE is one of 4096 8192 16384 32768 65536, not '$BUF'" >&2; exit 2 ;; esac
PREFIX=/opt/cw-squid/$BUF
if [ -x "$PREFIX/sbin/squid" ]; then echo "$PREFIX/sbin/squid"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "build-squid.sh: needs root (apt-get, install into /opt)" >&2; exit 2; }

# what the build needs, installed only when missing
need=""
for p in build-essential dpkg-dev autoconf automake libtool nettle-dev libltdl-dev pkg-config; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
	echo "installing:$need" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need >/dev/null ||
		{ echo "build-squid.sh: could not install$need" >&2; exit 2; }
fi

W=$(mktemp -d /tmp/cw-squid-build.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/lists/partial" "$W/src"
# deb-src twins of the system's sources (deb822 .sources files and one-line .list files)
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] && sed 's/^Types:.*\bdeb\b.*/Types: deb-src/' "$f" && echo
done > "$W/src.sources"
cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | sed -n 's/^deb /deb-src /p' > "$W/src.list"
APT=(-o Dir::Etc::SourceList="$W/src.list" -o Dir::Etc::SourceParts="$W/parts" -o Dir::State::Lists="$W/lists"
     -o APT::Sandbox::User=root)
mkdir -p "$W/parts" && cp "$W/src.sources" "$W/parts/src.sources"
apt-get "${APT[@]}" update >"$W/update.log" 2>&1 || { echo "build-squid.sh: apt-get update of the source lists failed: $(tail -1 "$W/update.log")" >&2; exit 1; }
# the installed version's source when the archive still has it, else the newest
ver=$(dpkg-query -W -f='${Version}' squid 2>/dev/null || true)
(cd "$W/src" && { [ -n "$ver" ] && apt-get "${APT[@]}" source "squid=$ver" >"$W/source.log" 2>&1 ||
	apt-get "${APT[@]}" source squid >"$W/source.log" 2>&1; }) ||
	{ echo "build-squid.sh: apt-get source squid failed: $(tail -1 "$W/source.log")" >&2; exit 1; }
S=$(find "$W/src" -maxdepth 1 -type d -name 'squid-*' | head -1)
[ -n "$S" ] && grep -q '^#define HTTP_REQBUF_SZ  *4096$' "$S/src/defines.h" ||
	{ echo "build-squid.sh: this squid source has no '#define HTTP_REQBUF_SZ 4096' in src/defines.h" >&2; exit 1; }
sed -i "s/^#define HTTP_REQBUF_SZ  *4096\$/#define HTTP_REQBUF_SZ  $BUF/" "$S/src/defines.h"
echo "building $(basename "$S") with HTTP_REQBUF_SZ $BUF into $PREFIX (about 5 minutes on 2 cores)" >&2
cd "$S"
# Debian's patches edit Makefile.am (the security fixes removed gopher): regenerate, as its dh_autoreconf does
autoreconf -fi >"$W/autoreconf.log" 2>&1 || { echo "build-squid.sh: autoreconf failed: $(grep -m1 error "$W/autoreconf.log")" >&2; exit 1; }
CFLAGS=-O2 CXXFLAGS=-O2 ./configure --prefix="$PREFIX" --disable-shared --with-default-user=proxy \
	--enable-storeio=ufs,aufs,rock --enable-async-io=8 --enable-removal-policies=lru,heap \
	--with-large-files --with-filedescriptors=65536 --disable-arch-native --disable-translation \
	--disable-auth --disable-esi --disable-ecap --disable-icap-client --without-gnutls --without-openssl \
	--disable-snmp --disable-htcp --disable-wccp --disable-wccpv2 --disable-eui --without-netfilter-conntrack \
	--without-cap --without-systemd --disable-external-acl-helpers --disable-url-rewrite-helpers \
	--disable-storeid-rewrite-helpers --disable-security-cert-validators --disable-security-cert-generators \
	--disable-log-daemon-helpers --without-mit-krb5 --without-heimdal-krb5 >"$W/configure.log" 2>&1 ||
	{ echo "build-squid.sh: configure failed: $(tail -1 "$W/configure.log")" >&2; exit 1; }
make -j"$(nproc)" >"$W/make.log" 2>&1 || {
	cp "$W/make.log" "/tmp/cw-squid-build-$BUF.log"
	echo "build-squid.sh: make failed: $(grep -m1 -E ' error: |\*\*\* ' "$W/make.log") (log: /tmp/cw-squid-build-$BUF.log)" >&2; exit 1; }
make install >"$W/install.log" 2>&1 || { echo "build-squid.sh: make install failed: $(tail -1 "$W/install.log")" >&2; exit 1; }
echo "$PREFIX/sbin/squid"

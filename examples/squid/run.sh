#!/bin/bash
# The Squid case study: Debian's squid (ufs cache_dir) in front of an nginx origin on loopback, a cache-miss-heavy
# load through it, `crosswalk walk` and an off-CPU profile of the running squid, then a change (of configuration, or of squid's code) that
# targets what the walk named, with throughput measured before and after. Everything it starts is stopped on exit.
#
# usage: examples/squid/run.sh [--quick] [--out DIR] [--runs N] [--after CONFIGS]
#   --quick        short walk/profile/load (for the end-to-end test)
#   --out DIR      keep the results here (default: squid-results/ in the current directory)
#   --runs N       throughput runs per configuration (default 3, 1 with --quick)
#   --after CONFIGS the changed configurations, space-separated, each measured against Debian's squid with ufs:
#                  rock (default: one database file, no file per object), aufs (ufs with open/create/unlink
#                  in threads), diskd, mem (no cache_dir); reqbuf: the code change for what the walk names,
#                  Debian's squid source built twice (build-squid.sh, about 10 minutes the first time), as shipped
#                  (reqbuf4k) and with a 64 KB reply buffer (reqbuf64k), both ufs, measured against each
#                  other and each walked once more
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CW=${CW:-$ROOT/build/crosswalk}
QUICK=0 OUT=$PWD/squid-results RUNS="" AFTER=rock
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--out) OUT=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--after) AFTER=$2; shift ;;
	*) echo "run.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
if [ $QUICK = 1 ]; then WALK_S=8 PROF_S=2 LOAD_S=3 RUNS=${RUNS:-1}; else WALK_S=30 PROF_S=5 LOAD_S=10 RUNS=${RUNS:-3}; fi
for a in $AFTER; do
	case "$a" in aufs|rock|diskd|mem|reqbuf) ;; *) echo "run.sh: --after takes aufs, rock, diskd, mem or reqbuf, not '$a'" >&2; exit 2 ;; esac
done
AFTER=$(echo " $AFTER " | sed 's/ reqbuf / reqbuf4k reqbuf64k /g')
[ -x "$CW" ] || { echo "run.sh: $CW is not built (run make)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (crosswalk attaches with BPF and ptrace)" >&2; exit 2; }

# the heavy packages only this study needs are installed here, not by scripts/deps
missing=""
command -v squid >/dev/null || [ -x /usr/sbin/squid ] || missing="$missing squid"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
command -v wrk >/dev/null || missing="$missing wrk"
command -v curl >/dev/null || missing="$missing curl"
if [ -n "$missing" ]; then
	echo "installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >/dev/null ||
		{ echo "run.sh: could not install$missing" >&2; exit 2; }
	# a package's postinst may start its service: this study leaves nothing running that it did not own
	for s in squid nginx; do service "$s" stop >/dev/null 2>&1 || true; done
fi
SQUID=$(command -v squid || echo /usr/sbin/squid)
# the code change: Debian's source, rebuilt as shipped and with the larger reply buffer (cached in /opt/cw-squid)
for a in $AFTER; do
	case "$a" in
	reqbuf4k) SQUID_reqbuf4k=$("$ROOT/examples/squid/build-squid.sh" 4096) || exit 1 ;;
	reqbuf64k) SQUID_reqbuf64k=$("$ROOT/examples/squid/build-squid.sh" 65536) || exit 1 ;;
	esac
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

ulimit -c unlimited 2>/dev/null # a squid that crashes leaves a core to look at (moved into OUT)
W=$(mktemp -d /tmp/cw-squid.XXXXXX)
chmod 755 "$W" # squid runs as proxy and must reach its cache and log directories
mkdir -p "$OUT"
SQUID_PID="" NGINX_PID="" LOAD_PID="" LABEL=setup
stop_squid() {
	[ -n "$SQUID_PID" ] || return 0
	local kids; kids=$(pgrep -P "$SQUID_PID") # its helpers (unlinkd, diskd): they go with it, else by pid below
	if ! kill -0 "$SQUID_PID" 2>/dev/null; then
		wait "$SQUID_PID" 2>/dev/null
		echo "squid (pid $SQUID_PID) died before it was stopped (exit $?): its log is $OUT/cache-$LABEL.log" | tee -a "$OUT/summary.txt" >&2
		for c in "$W"/log/core*; do [ -f "$c" ] && mv "$c" "$OUT/core-$LABEL" && echo "its core: $OUT/core-$LABEL" >&2; done
	fi
	kill -TERM "$SQUID_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$SQUID_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SQUID_PID" 2>/dev/null
	wait "$SQUID_PID" 2>/dev/null
	SQUID_PID=""
	for p in $kids; do kill -KILL "$p" 2>/dev/null; done
	cat "$W/log/cache.log" "$W/log/squid.out" > "$OUT/cache-$LABEL.log" 2>/dev/null
}
cleanup() {
	[ -n "$LOAD_PID" ] && kill -KILL "$LOAD_PID" 2>/dev/null
	stop_squid
	if [ -n "$NGINX_PID" ]; then kill -TERM "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# --- origin: nginx serving /obj/N for any N, the body one of ten files of 8-32 KB picked by N's last digit, so
# every distinct URL is a distinct object to squid (cacheable for an hour)
OPORT=$(free_port)
mkdir -p "$W/www/blob" "$W/nginx"
for i in 0 1 2 3 4 5 6 7 8 9; do head -c $(( (8 + i * 24 / 9) * 1024 )) /dev/urandom > "$W/www/blob/$i.bin"; done
cat > "$W/nginx/nginx.conf" <<NG
daemon off;
master_process off;
worker_processes 1;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $W/nginx; proxy_temp_path $W/nginx; fastcgi_temp_path $W/nginx;
	uwsgi_temp_path $W/nginx; scgi_temp_path $W/nginx;
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$OPORT;
		root $W/www;
		location ~ "^/obj/[0-9]*([0-9])\$" { expires 1h; try_files /blob/\$1.bin =404; }
	}
}
NG
"$NGINX" -c "$W/nginx/nginx.conf" -p "$W/nginx" -e "$W/nginx/error.log" & NGINX_PID=$!
wait_port "$OPORT" || { echo "run.sh: nginx did not start: $(tail -3 "$W/nginx/error.log")" >&2; exit 1; }

# --- squid: one process (-N), cache_mem tiny so objects go to the disk store
SPORT=$(free_port)
# a configuration is a store (Debian's squid) or a rebuilt squid (reqbuf*, with ufs)
conf_store() { case "$1" in reqbuf*) echo ufs ;; *) echo "$1" ;; esac; }
conf_squid() { case "$1" in reqbuf4k) echo "$SQUID_reqbuf4k" ;; reqbuf64k) echo "$SQUID_reqbuf64k" ;; *) echo "$SQUID" ;; esac; }
squid_conf() { # CONFIG -> $W/squid.conf
	local store; store=$(conf_store "$1")
	mkdir -p "$W/cache-$store" "$W/log"
	chown -R proxy:proxy "$W/cache-$store" "$W/log" 2>/dev/null
	{
		echo "http_port 127.0.0.1:$SPORT"
		echo "acl localnet src 127.0.0.1/32"
		echo "http_access allow localnet"
		echo "http_access deny all"
		case "$store" in
		ufs|aufs|diskd) echo "cache_dir $store $W/cache-$store 1000 16 256" ;;
		rock) echo "cache_dir rock $W/cache-$store 1000" ;;
		mem) echo "cache_mem 256 MB"; echo "maximum_object_size_in_memory 64 KB" ;;
		esac
		if [ "$store" != mem ]; then echo "cache_mem 1 MB"; echo "maximum_object_size_in_memory 1 KB"; fi
		echo "cache_effective_user proxy"
		echo "pid_filename $W/log/squid.pid"
		echo "cache_log $W/log/cache.log"
		echo "access_log none"
		echo "cache_store_log none"
		echo "coredump_dir $W/log"
		echo "netdb_filename none"
		echo "pinger_enable off"
		echo "dns_nameservers 127.0.0.1"
		echo "shutdown_lifetime 1 seconds"
		echo "max_filedescriptors 8192"
	} > "$W/squid.conf"
}
start_squid() { # CONFIG
	local sq; sq=$(conf_squid "$1")
	squid_conf "$1"
	"$sq" -N -z -f "$W/squid.conf" > "$W/log/z.out" 2>&1 ||
		{ echo "run.sh: squid -z failed: $(tail -3 "$W/log/z.out")" >&2; exit 1; }
	"$sq" -N -f "$W/squid.conf" > "$W/log/squid.out" 2>&1 & SQUID_PID=$!
	wait_port "$SPORT" || { echo "run.sh: squid did not start: $(tail -3 "$W/log/cache.log")" >&2; exit 1; }
	# the store is indexed after the port opens (rock reads its whole database): measure only after that
	if [ "$1" != mem ]; then
		for _ in $(seq 600); do grep -q "Finished rebuilding storage" "$W/log/cache.log" && break; sleep 0.1; done
	fi
	sleep 1
	# a change must not break what squid serves: one object through it, compared with the origin's bytes
	local u=$((RANDOM * 32768 + RANDOM)); local b="$W/www/blob/${u: -1}.bin"
	curl -s -o "$W/check.bin" -x "http://127.0.0.1:$SPORT" "http://127.0.0.1:$OPORT/obj/$u" &&
		cmp -s "$W/check.bin" "$b" || { echo "run.sh: squid ($1) served /obj/$u wrong: $(stat -c %s "$W/check.bin" 2>/dev/null || echo no) bytes for $(stat -c %s "$b")" >&2; exit 1; }
}

# --- load: wrk, one thread, 16 connections, each request for a URL never asked before (absolute-URI requests
# make squid a forward proxy); prints requests/s
cat > "$W/miss.lua" <<LUA
local n = 0
local base = "http://127.0.0.1:$OPORT/obj/"
function setup(thread) thread:set("tid", math.random(1, 1000000)) end
function init(args) n = tid * 1000000 end
function request() n = n + 1; return wrk.format("GET", base .. n) end
LUA
load() { # SECONDS OUTFILE: drive load, print requests/s
	wrk -t1 -c16 -d"$1"s --latency -s "$W/miss.lua" "http://127.0.0.1:$SPORT/" > "$2" 2>&1
	awk '/^Requests\/sec:/ { print $2 }' "$2"
}
check_misses() { # the load must be served by the origin: a cache hit would make this a memory benchmark
	local st; st=$(grep -E "^  Non-2xx|Socket errors" "$1")
	[ -z "$st" ] || echo "warning: $st" >&2
}
run_once() { # CONFIG LABEL: one throughput run on a fresh store, appended to summary.txt
	local conf=$1 r
	LABEL=$2
	start_squid "$conf"
	r=$(load "$LOAD_S" "$OUT/wrk-$LABEL.txt"); check_misses "$OUT/wrk-$LABEL.txt"
	echo "$LABEL ($conf): ${r:-0} req/s" | tee -a "$OUT/summary.txt" >&2
	stop_squid
	rm -rf "$W/cache-$(conf_store "$conf")"
}
measure() { # one run of ufs and of each changed store, RUNS times, interleaved: the machine's load drifts
	local i a
	for i in $(seq "$RUNS"); do
		run_once ufs "ufs-$i"
		for a in $AFTER; do run_once "$a" "$a-$i"; done
	done
}

: > "$OUT/summary.txt"
echo "squid $("$SQUID" -v | sed -n 's/^Squid Cache: Version //p'), origin nginx on 127.0.0.1:$OPORT, squid on 127.0.0.1:$SPORT; walk ${WALK_S}s, profile ${PROF_S}s, load ${LOAD_S}s x $RUNS runs" | tee -a "$OUT/summary.txt"


walk_squid() { # NAME: walk the running squid into $OUT/NAME.{txt,json,err}
	local rc=0
	echo "walking squid (pid $SQUID_PID, $LABEL) for up to ${WALK_S}s" >&2
	"$CW" walk -p "$SQUID_PID" -d "$WALK_S" --json "$OUT/$1.json" > "$OUT/$1.txt" 2> "$OUT/$1.err" || rc=$?
	echo "walk exit $rc" >> "$OUT/$1.err"
	# a walk that ends before its search (squid gone in the first second, an attach error) writes no JSON: say why
	if [ ! -s "$OUT/$1.json" ]; then
		echo "$1 wrote no JSON (exit $rc): $(cat "$OUT/$1.txt" "$OUT/$1.err" | grep -v "^walk exit\|^crosswalk: walking" | tail -1)" |
			tee -a "$OUT/summary.txt" >&2
	fi
}

# Squid 5.7 itself aborts now and then within its first second under this load, crosswalk attached or not
# (one in ~25 studies; on 2026-12-07 the walk found no process to attach to). Such a squid is noted with the
# last lines of its log, kept as cache-LABEL-alone.log, and started again once; a squid that dies after the
# walk attached stays a failure of the study ("died before it was stopped").
squid_died_alone() { # CONFIG
	local st
	wait "$SQUID_PID" 2>/dev/null; st=$?
	cat "$W/log/cache.log" "$W/log/squid.out" > "$OUT/cache-$LABEL-alone.log" 2>/dev/null
	for c in "$W"/log/core*; do [ -f "$c" ] && mv "$c" "$OUT/core-$LABEL-alone"; done
	echo "squid (pid $SQUID_PID) died on its own before the walk attached (exit $st), started again; its log ends: $(grep -E "assert|FATAL|abort" "$OUT/cache-$LABEL-alone.log" | tail -1)" |
		tee -a "$OUT/summary.txt" >&2
	SQUID_PID=""
	kill -INT "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null; LOAD_PID=""
	rm -rf "$W/cache-$(conf_store "$1")"
}
walk_under_load() { # NAME CONFIG LOAD_SECONDS: squid CONFIG under the load, walked into $OUT/NAME.*; the load goes on
	local try
	for try in 1 2; do
		start_squid "$2"
		wrk -t1 -c16 -d"$3"s -s "$W/miss.lua" "http://127.0.0.1:$SPORT/" > "$OUT/wrk-$1.txt" 2>&1 & LOAD_PID=$!
		sleep 1
		if kill -0 "$SQUID_PID" 2>/dev/null; then
			walk_squid "$1"
			cat "$OUT/$1.txt" "$OUT/$1.err" | grep -q "no process $SQUID_PID" || return 0
		fi
		[ "$try" = 2 ] && return 0
		squid_died_alone "$2"
	done
}

# 2. walk and profile squid under load
LABEL=walk
walk_under_load walk ufs $((WALK_S + 2 * PROF_S + 10))
if ! kill -0 "$SQUID_PID" 2>/dev/null; then # the walk's instrumentation can kill it (docs/squid.md): the profile
	stop_squid                               # is taken of a fresh squid under the same load
	LABEL=profile; rm -rf "$W/cache-ufs"; start_squid ufs; sleep 1
fi
rc=0; "$CW" profile -p "$SQUID_PID" --off-cpu -d "$PROF_S" --min-pct 0.5 > "$OUT/profile.txt" 2> "$OUT/profile.err" || rc=$?
echo "profile exit $rc" >> "$OUT/profile.err"
rc=0; "$CW" profile -p "$SQUID_PID" --off-cpu -d "$PROF_S" -f folded -o "$OUT/profile.folded" 2>> "$OUT/profile.err" || rc=$?
echo "profile (folded) exit $rc" >> "$OUT/profile.err"
kill -INT "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null; LOAD_PID=""
stop_squid
rm -rf "$W/cache-ufs"

# 3. throughput, before (ufs) and after (each changed configuration)
measure
# 4. the code change walked: what the walk names in the rebuilt squid, as shipped and with the larger buffer
for a in $AFTER; do
	case "$a" in reqbuf*) ;; *) continue ;; esac
	LABEL=walk-$a
	walk_under_load "$LABEL" "$a" $((WALK_S + 10))
	kill -INT "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null; LOAD_PID=""
	stop_squid
	rm -rf "$W/cache-ufs"
done
python3 - "$OUT/summary.txt" <<'PY' | tee -a "$OUT/summary.txt"
import re, sys, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"\S+-\d+ \((\w+)\): ([0-9.]+) req/s", line)
    if m: runs[m.group(1)].append(float(m.group(2)))
mean = {k: sum(v) / len(v) for k, v in runs.items()}
for conf, v in runs.items():
    # each change against its own baseline: Debian's squid with ufs, or the same source built as shipped
    base = "reqbuf4k" if conf == "reqbuf64k" else "ufs"
    ratio = f", {mean[conf] / mean[base]:.2f}x {base}" if conf not in ("ufs", "reqbuf4k") and mean.get(base) else ""
    print(f"{conf}: mean {mean[conf]:.0f} req/s over {len(v)} runs (min {min(v):.0f}, max {max(v):.0f}){ratio}")
PY
echo "results in $OUT (walk.txt, walk.json, profile.txt, profile.folded, summary.txt)"

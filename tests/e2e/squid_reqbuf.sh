# The Squid study's code change (examples/squid/run.sh --after reqbuf): Debian's squid source built as shipped
# and with a 64 KB reply buffer (build-squid.sh). The larger buffer serves the same bytes (run.sh compares an
# object through each squid with the origin's), every load run is served without errors, the rebuilt squids
# survive their walks, and the 64 KB build writes a reply to its client in fewer write() calls than the
# 4 KB one (counted with strace on a fetch through each). The builds take about 5 minutes each (2 cores), so this test
# runs only where they exist and says how to make them otherwise.
. "$(dirname "$0")/../lib.sh"
BUILD=$CW_ROOT/examples/squid/build-squid.sh
[ -x "$BUILD" ] || fail "$BUILD missing"
# argument checks come before any build
out=$("$BUILD" 5000 2>&1) && fail "build-squid.sh accepted BUFSIZE 5000"
echo "$out" | grep -q "BUFSIZE is one of" || fail "build-squid.sh 5000 said: $out"
for b in 4096 65536; do
	[ -x /opt/cw-squid/$b/sbin/squid ] || skip "the rebuilt squid /opt/cw-squid/$b is not there: examples/squid/build-squid.sh $b builds it (about 5 minutes on 2 cores)"
done
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || skip "nginx not installed: scripts/deps.sh installs it"
command -v wrk >/dev/null || skip "wrk not installed: scripts/deps.sh installs it"
command -v strace >/dev/null || skip "strace not installed"
need_root
need_facility bpf-perf-event
pgrep -f "/tmp/cw-squid\." >/dev/null && skip "another squid study is running"

rc=0; CW=$CW timeout 400 "$CW_ROOT/examples/squid/run.sh" --quick --after reqbuf --out "$TMP/out" > "$TMP/o" 2>&1 || rc=$?
[ $rc = 0 ] || { tail -20 "$TMP/o"; fail "run.sh --quick --after reqbuf exited $rc"; }
S=$TMP/out/summary.txt
for c in ufs reqbuf4k reqbuf64k; do
	grep -Eq "^$c: mean [0-9]+ req/s over 1 runs" "$S" || { cat "$S"; fail "no $c throughput"; }
done
grep -Eq "^reqbuf64k: .*x reqbuf4k$" "$S" || { cat "$S"; fail "reqbuf64k is not compared with reqbuf4k"; }
! grep -q "Non-2xx\|Socket errors" "$TMP"/out/wrk-reqbuf*-1.txt || fail "load runs got errors"
! grep -q "died before it was stopped\|wrote no JSON" "$S" || fail "$(grep "died\|no JSON" "$S")"
for c in reqbuf4k reqbuf64k; do
	json_check "$TMP/out/walk-$c.json" "not d['search']['target_exited'] and d['search']['experiments'] >= 3"
done

# the change itself: write() calls to the client for one 32 KB object, 4 KB buffer against 64 KB
cd "$TMP" || fail "no $TMP"
mkdir -p www/obj && head -c 32768 /dev/urandom > www/obj/o
OP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > ng.conf <<NG
daemon off; master_process off; pid $TMP/ng.pid; error_log $TMP/ng.err;
events {} http { access_log off; client_body_temp_path $TMP; proxy_temp_path $TMP; fastcgi_temp_path $TMP;
uwsgi_temp_path $TMP; scgi_temp_path $TMP; server { listen 127.0.0.1:$OP; root $TMP/www; } }
NG
NG=$(command -v nginx || echo /usr/sbin/nginx)
"$NG" -c "$TMP/ng.conf" -p "$TMP" -e "$TMP/ng.err" & ngp=$!
sq_pid=""
trap 'kill $ngp 2>/dev/null; for f in "$TMP"/sq*/pid; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$TMP"' EXIT
writes() { # BUFSIZE: write() calls squid makes to the client socket for the object
	local b=$1 sp; sp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "sq$b"; chown proxy:proxy "sq$b"; chmod 755 "$TMP"
	printf '%s\n' "http_port 127.0.0.1:$sp" "http_access allow all" "cache_effective_user proxy" \
		"pid_filename $TMP/sq$b/pid" "cache_log $TMP/sq$b/cache.log" "access_log none" "cache_store_log none" \
		"coredump_dir $TMP/sq$b" "netdb_filename none" "pinger_enable off" "dns_nameservers 127.0.0.1" \
		"shutdown_lifetime 1 seconds" > "sq$b.conf"
	strace -f -e trace=write -o "st$b" /opt/cw-squid/$b/sbin/squid -N -f "$TMP/sq$b.conf" & sq_pid=$!
	for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$sp) 2>/dev/null && break; sleep 0.1; done
	curl -s -x "http://127.0.0.1:$sp" -o "got$b" "http://127.0.0.1:$OP/obj/o" || fail "fetch through squid $b failed"
	cmp -s "got$b" www/obj/o || fail "squid $b served the object wrong"
	# squid's own pid (strace's would only detach it): TERM, and strace ends with it
	kill -TERM "$(cat "sq$b/pid" 2>/dev/null)" 2>/dev/null || kill -KILL $sq_pid
	wait $sq_pid 2>/dev/null; sq_pid=""
	# the body's writes: 4096-byte writes for the shipped buffer, larger ones for 64 KB
	awk -F'= ' '/^[0-9]+ +write\(/ && $NF + 0 >= 1024 { n++ } END { print n + 0 }' "st$b"
}
w4=$(writes 4096) w64=$(writes 65536)
echo "body writes of >= 1 KB for a 32 KB object: $w4 (4 KB buffer), $w64 (64 KB buffer)"
[ "$w4" -ge 8 ] || fail "the shipped squid wrote the 32 KB body in $w4 writes of >= 1 KB (expected >= 8 of 4 KB)"
[ "$w64" -ge 1 ] && [ $((w64 * 2)) -le "$w4" ] || fail "the 64 KB squid wrote the 32 KB body in $w64 writes against $w4 (expected at most half)"
echo PASS

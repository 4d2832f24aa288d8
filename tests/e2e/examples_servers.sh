# The demo's example servers answer byte-exact responses (pipelined, split, large, malformed requests),
# select_server serves more than FD_SETSIZE (1024) connections, and loadgen checks every byte: zero errors
# against both servers, and errors (exit 1) against a server that answers wrong bytes.
. "$(dirname "$0")/../lib.sh"
EX=$(dirname "$(readlink -f "$CW")")/examples
for p in select_server epoll_server loadgen; do
	[ -x "$EX/$p" ] || fail "$EX/$p is not built (make)"
done
[ "$(ulimit -Hn)" -ge 1200 ] || skip "hard open-file limit $(ulimit -Hn) is below the 1200 the test needs"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT

# start_server NAME: starts it on a free port, sets PORT and SPID
start_server() {
	"$EX/$1" -p 0 -T 60 > "$TMP/$1.out" 2>&1 &
	SPID=$!
	PIDS+=("$SPID")
	for _ in $(seq 50); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/$1.out")
		[ -n "$PORT" ] && return 0
		sleep 0.1
	done
	cat "$TMP/$1.out"
	fail "$1 did not say which port it listens on"
}

for srv in select_server epoll_server; do
	start_server $srv
	python3 - "$PORT" <<'PY' || fail "$srv: wrong response (above)"
import socket, sys, time
port = int(sys.argv[1])
pat = bytes(ord('a') + i % 26 for i in range(65536 + 26))
def body(i, n): return pat[i % 26:i % 26 + n]
def ok(i, n): return b"OK %d\n" % n + body(i, n)
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s
def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b: break
        buf += b
    return buf
def check(name, got, want):
    if got != want:
        print(f"{name}: got {len(got)} bytes {got[:60]!r}..., want {len(want)} bytes {want[:60]!r}...")
        sys.exit(1)
def read_all_until_close(s):
    buf = b""
    while True:
        b = s.recv(65536)
        if not b: return buf
        buf += b

s = conn()
s.sendall(b"GET /item/7 100\n"); check("simple", read_exact(s, len(ok(7, 100))), ok(7, 100))
s.sendall(b"GET /item/0 1\nGET /item/25 4096\n")          # two pipelined in one segment
check("pipelined", read_exact(s, len(ok(0, 1)) + len(ok(25, 4096))), ok(0, 1) + ok(25, 4096))
s.sendall(b"GET /ite"); time.sleep(0.1); s.sendall(b"m/4294967295 3\n")   # split line, largest id
check("split", read_exact(s, len(ok(4294967295, 3))), ok(4294967295, 3))
# 16 large responses requested at once and read late: the server must finish partial writes in order
s.sendall(b"".join(b"GET /item/%d 65536\n" % i for i in range(16)))
time.sleep(0.3)
want = b"".join(ok(i, 65536) for i in range(16))
check("large", read_exact(s, len(want)), want)
s.close()
for bad in (b"GET /item/1 0\n", b"GET /item/1 65537\n", b"GET /item/4294967296 5\n", b"PUT /item/1 5\n",
            b"GET /item/ 5\n", b"GET /item/1 5 \n", b"GET /item/1\n", b"x" * 200):
    s = conn(); s.sendall(bad)
    check("bad %r" % bad[:20], read_all_until_close(s), b"ERR bad request\n"); s.close()
PY
	rc=0; "$EX/loadgen" -p "$PORT" -i 1100 -c 4 -d 1 -s 4096 > "$TMP/lg.out" 2>&1 || rc=$?
	[ $rc = 0 ] || { cat "$TMP/lg.out"; fail "$srv: loadgen exited $rc"; }
	cat "$TMP/lg.out"
	grep -q "^loadgen: connected idle=1100 active=4$" "$TMP/lg.out" || fail "$srv: loadgen did not open 1100+4 connections"
	grep -Eq "^loadgen: requests=[1-9][0-9]* errors=0 " "$TMP/lg.out" || fail "$srv: loadgen saw errors or no requests"
	# exact request count, and a rate that is never exceeded
	"$EX/loadgen" -p "$PORT" -i 10 -c 3 -d 30 -n 50 -s 1 > "$TMP/lg.out" 2>&1 || { cat "$TMP/lg.out"; fail "$srv: loadgen -n failed"; }
	grep -Eq "^loadgen: requests=50 errors=0 " "$TMP/lg.out" || { cat "$TMP/lg.out"; fail "$srv: -n 50 did not make exactly 50 requests"; }
	"$EX/loadgen" -p "$PORT" -i 0 -c 2 -d 1 -r 100 -s 10 > "$TMP/lg.out" 2>&1 || { cat "$TMP/lg.out"; fail "$srv: loadgen -r failed"; }
	n=$(sed -n 's/^loadgen: requests=\([0-9]*\) .*/\1/p' "$TMP/lg.out")
	[ -n "$n" ] && [ "$n" -le 110 ] || { cat "$TMP/lg.out"; fail "$srv: -r 100 for 1 s made $n requests"; }
	kill -TERM "$SPID"; wait "$SPID"
	tail -1 "$TMP/$srv.out" | grep -Eq "^$srv: requests=[0-9]+ calls=[0-9]+ " || { cat "$TMP/$srv.out"; fail "$srv: no counters at exit"; }
done

# loadgen must notice wrong bytes: a server that answers with the wrong body
python3 - > "$TMP/bad.out" 2>&1 <<'PY' &
import socket, threading
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0)); ls.listen(64); print("port", ls.getsockname()[1], flush=True)
ls.settimeout(20)
def serve(c):
    f = c.makefile("rb")
    for line in f:
        n = int(line.split()[2]); c.sendall(b"OK %d\n" % n + b"z" * n)
try:
    while True:
        c, _ = ls.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
except Exception:
    pass
PY
BPID=$!
PIDS+=("$BPID")
for _ in $(seq 50); do port=$(sed -n 's/^port //p' "$TMP/bad.out"); [ -n "$port" ] && break; sleep 0.1; done
[ -n "$port" ] || fail "the wrong-bytes server did not start"
rc=0; "$EX/loadgen" -p "$port" -i 0 -c 1 -d 0.5 -s 100 > "$TMP/lg.out" 2>&1 || rc=$?
cat "$TMP/lg.out"
[ $rc = 1 ] || fail "loadgen exited $rc against a server answering wrong bytes (want 1)"
grep -Eq "^loadgen: requests=0 errors=[1-9]" "$TMP/lg.out" || fail "loadgen did not count the wrong responses as errors"
rc=0; "$EX/loadgen" -p "$port" -i 70000 > /dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "loadgen -i 70000 exited $rc (want 2: bad usage)"
exit 0

# The hard cases of instrumenting a running program: many threads, signals inside instrumented frames,
# longjmp/siglongjmp through them, fork, threads exiting with frames open, libc's own malloc/free.
# Each: exact counts and the program's output unchanged.
. "$(dirname "$0")/../lib.sh"
run() { # run VARIANT FUNCS ARGS... -> $TMP/out (program stdout), $TMP/j.json
	local bin="$CW_WL/mw_hard.$1" f=$2; shift 2
	want=$("$bin" "$@") || fail "$*: workload failed"
	"$CW" measure ${OPTS:-} -f "$f" --json "$TMP/j.json" -o "$TMP/table" -- "$bin" "$@" >"$TMP/out" 2>"$TMP/err" ||
		{ cat "$TMP/err"; fail "$*: measure exited $?"; }
	grep -q "killed by signal" "$TMP/err" && { cat "$TMP/err"; fail "$*: target crashed"; }
	[ "$(cat "$TMP/out")" = "$want" ] || [ "$1" = signal ] || [ "$1" = sigstorm ] || fail "$*: output changed: $(cat "$TMP/out") vs $want"
}
calls() { python3 -c 'import json,sys; d={f["function"]:f for f in json.load(open(sys.argv[1]))["functions"]}; print(d[sys.argv[2]][sys.argv[3] if len(sys.argv)>3 else "calls"])' "$TMP/j.json" "$@"; }
expect() { local got; got=$(calls "$1" "${3:-calls}"); [ "$got" = "$2" ] || { cat "$TMP/table"; fail "$V $1: ${3:-calls} $got, want $2"; }; }

for V in gcc-O2 clang-O2-cet gcc-O0; do
	run $V work threads 8 20000;		expect work 160000
	# more threads than counter shards: the first take a shard each (plain adds), the rest share one
	run $V work threads 24 5000;		expect work 120000
	# per-call-site counts are sharded like the others: exact over 24 threads (7 with a shard each, the
	# rest adding atomically to the shared one)
	OPTS=--sites run $V work threads 24 5000;	expect work 120000
	sites=$(python3 -c 'import json,sys; d={f["function"]:f for f in json.load(open(sys.argv[1]))["functions"]}; print(sum(s["calls"] for s in d["work"]["sites"]))' "$TMP/j.json")
	[ "$sites" = 120000 ] || fail "$V: calls of work by call site sum to $sites, want 120000"
	run $V leaf,in_handler,work signal 3000
	h=$(sed -n 's/.*handled \([0-9]*\).*/\1/p' "$TMP/out")
	expect leaf 3000; expect work 3000; expect in_handler "$h"
	# a signal every 20 us while work() runs back to back: handlers' calls land in every instruction of
	# the entry and exit paths (the assembly fast path, and with --sites the C hooks)
	for OPTS in "" --sites; do
		run $V work,in_handler sigstorm 3000000
		h=$(sed -n 's/.*handled \([0-9]*\).*/\1/p' "$TMP/out")
		[ "${h:-0}" -ge 100 ] || fail "$V sigstorm $OPTS: only ${h:-0} signals handled"
		expect work 3000000; expect in_handler "$h"
	done
	OPTS=""
	run $V jumper,deep,after,sig_deep,in_handler longjmp 200
	expect after 400; expect in_handler 200; expect jumper 200 entries; expect deep 200 entries; expect jumper 0
	run $V work fork 500;			expect work 1500  # the child's calls count too (shared counters)
	grep -q "child done" "$TMP/out" || fail "$V: the forked child did not run"
	run $V exiter,work texit 8;		expect work 18; expect exiter 8 entries
	# exec: the new image runs uninstrumented (the agent stays inert in it); the calls before exec count
	run $V work exec 300;			expect work 300
	grep -q "threads 1 calls 300" "$TMP/out" || fail "$V: the exec'd image did not run"
	run $V malloc,free malloc 5000
	[ "$(calls libc.so.6:malloc)" -ge 5000 ] || fail "$V: malloc count $(calls libc.so.6:malloc)"
	[ "$(calls libc.so.6:free)" -ge 5000 ] || fail "$V: free count $(calls libc.so.6:free)"
done
exit 0

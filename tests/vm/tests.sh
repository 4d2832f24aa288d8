# Kernel-backend tests run inside the VM (busybox sh, no python): fentry and kprobe give exact call counts and
# inclusive times consistent with their callers; nothing stays loaded. One "CWVM: PASS|FAIL|SKIP name: why"
# line per test on the console, which tests/vm/run.sh parses.
CW=/cw/crosswalk
WL=/cw/wl
N=${CW_VM_N:-200}
pass() { echo "CWVM: PASS $1"; }
failt() { echo "CWVM: FAIL $1: $2"; }

# field NAME KEY FILE: the number after "KEY": on the JSON line of function NAME
field() { grep "\"function\": \"$1\"" "$3" | sed -n "s/.*\"$2\": \\([0-9]*\\).*/\\1/p" | head -1; }

no_progs_left() {
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ "$($CW kmeasure --list-progs)" = "0 crosswalk BPF programs loaded" ] && return 0
		sleep 0.5
	done
	return 1
}

$CW probe | sed 's/^/CWVM: probe /'
kpipe=pipe_read
grep -q ' anon_pipe_read$' /proc/kallsyms && kpipe=anon_pipe_read

# the backends every kernel has, on this older kernel too (CO-RE against 6.1's BTF)
for b in tracepoint sampling; do
	t=$b-counts
	$CW kmeasure --kernel-backend $b -f sys:read,sys:fsync,sys:write --json /tmp/$b.json -- $WL/kfunc_counts $N /tmp/kc.dat > /tmp/$b.txt 2>&1
	rc=$?
	sed "s/^/CWVM: $t: /" /tmp/$b.txt
	sf=$(field sys:fsync calls /tmp/$b.json); sw=$(field sys:write calls /tmp/$b.json); sr=$(field sys:read calls /tmp/$b.json)
	if [ $rc != 0 ]; then failt $t "kmeasure exited $rc"
	elif [ "$sf" != $N ]; then failt $t "sys:fsync counted $sf, expected exactly $N"
	elif [ "$sw" != $((N + 1)) ]; then failt $t "sys:write counted $sw, expected exactly $((N + 1))"
	elif [ "${sr:-0}" -lt $N ]; then failt $t "sys:read counted $sr, fewer than $N"
	else pass $t; fi
	no_progs_left || failt $b-removed "$($CW kmeasure --list-progs) after kmeasure ended"
done

for b in fentry kprobe; do
	t=$b-counts
	if ! $CW probe | grep -Eq "^$b +yes"; then
		failt $t "backend $b not available in the VM: $($CW probe | grep "^$b ")"
		continue
	fi
	out=/tmp/$b.json
	$CW kmeasure --kernel-backend $b --per-thread -f sys:read,k:$kpipe,sys:fsync,k:vfs_fsync_range --json $out -- $WL/kfunc_counts $N /tmp/kc.dat > /tmp/$b.txt 2>&1
	rc=$?
	sed "s/^/CWVM: $t: /" /tmp/$b.txt
	if [ $rc != 0 ]; then failt $t "kmeasure exited $rc"; continue; fi
	pr=$(field k:$kpipe calls $out); sr=$(field sys:read calls $out)
	pf=$(field k:vfs_fsync_range calls $out); sf=$(field sys:fsync calls $out)
	prt=$(field k:$kpipe total_ns $out); srt=$(field sys:read total_ns $out)
	pft=$(field k:vfs_fsync_range total_ns $out); sft=$(field sys:fsync total_ns $out)
	be=$(grep "\"function\": \"k:$kpipe\"" $out | sed -n 's/.*"backend": "\([a-z]*\)".*/\1/p')
	pt=$(grep "\"function\": \"k:$kpipe\"" $out | sed -n 's/.*"threads": \[{"tid": [0-9]*, "calls": \([0-9]*\).*/\1/p')
	echo "CWVM: $t: k:$kpipe $pr calls ${prt}ns, sys:read $sr calls ${srt}ns, k:vfs_fsync_range $pf calls ${pft}ns, sys:fsync $sf calls ${sft}ns, backend $be"
	if [ "$be" != $b ]; then failt $t "k:$kpipe measured by '$be', not $b"
	elif [ "$pr" != $N ]; then failt $t "k:$kpipe counted $pr calls, expected exactly $N"
	elif [ "$pt" != $N ]; then failt $t "k:$kpipe per-thread calls '$pt', expected $N for the one thread"
	elif [ "$pf" != $N ]; then failt $t "k:vfs_fsync_range counted $pf calls, expected exactly $N"
	elif [ "$sf" != $N ]; then failt $t "sys:fsync counted $sf calls, expected exactly $N"
	elif [ "$sr" -lt $N ]; then failt $t "sys:read counted $sr calls, fewer than the $N pipe reads"
	elif [ "$prt" -le 0 ] || [ "$prt" -gt "$srt" ]; then failt $t "k:$kpipe time $prt not in (0, sys:read time $srt]"
	elif [ "$pft" -le 0 ] || [ "$pft" -gt "$sft" ]; then failt $t "k:vfs_fsync_range time $pft not in (0, sys:fsync time $sft]"
	else pass $t; fi
	if no_progs_left; then pass $b-removed; else failt $b-removed "$($CW kmeasure --list-progs) after kmeasure ended"; fi

	# a kernel function this backend cannot trace (noinstr) and an unknown one: one line each, exit 2
	t=$b-untraceable
	$CW kmeasure --kernel-backend $b -f k:exc_page_fault -- /bin/true > /tmp/u.txt 2> /tmp/u.err; rc=$?
	$CW kmeasure --kernel-backend $b -f k:pipe_reed -- /bin/true > /tmp/u2.txt 2> /tmp/u2.err; rc2=$?
	sed "s/^/CWVM: $t: /" /tmp/u.err /tmp/u2.err
	if [ $rc != 2 ] || [ "$(wc -l < /tmp/u.err)" != 1 ] || ! grep -q 'k:exc_page_fault: not traceable with' /tmp/u.err; then failt $t "k:exc_page_fault: exit $rc, $(wc -l < /tmp/u.err) lines"
	elif [ $rc2 != 2 ] || ! grep -q 'no such kernel function.*k:pipe_read' /tmp/u2.err; then failt $t "k:pipe_reed: exit $rc2 without close matches"
	else pass $t; fi

	# exact fault time through the backend's timer on handle_mm_fault
	t=$b-faults
	$CW kmeasure --kernel-backend $b -f fault,fault:user --json /tmp/f.json -- $WL/faults 4 2 > /tmp/f.txt 2>&1; rc=$?
	sed "s/^/CWVM: $t: /" /tmp/f.txt
	fc=$(field fault:user calls /tmp/f.json); ft=$(field fault total_ns /tmp/f.json); fb=$(grep '"function": "fault"' /tmp/f.json | sed -n 's/.*"backend": "\([a-z]*\)".*/\1/p')
	if [ $rc != 0 ]; then failt $t "kmeasure exited $rc"
	elif [ "$fb" != $b ]; then failt $t "fault timed by '$fb', not $b"
	elif [ "${fc:-0}" -lt 2048 ]; then failt $t "only ${fc:-0} user faults for 2048 fresh pages"
	elif [ "${ft:-0}" -le 0 ]; then failt $t "no fault time"
	else pass $t; fi
	no_progs_left || failt $b-faults-removed "$($CW kmeasure --list-progs) after kmeasure ended"
done

# insert and remove at run time through the library, on a live process
t=insert-remove
if [ -x /cw/kinsert ]; then
	/cw/kinsert $kpipe > /tmp/ki.txt 2>&1; rc=$?
	sed "s/^/CWVM: $t: /" /tmp/ki.txt
	if [ $rc = 0 ]; then pass $t; else failt $t "kinsert exited $rc"; fi
fi

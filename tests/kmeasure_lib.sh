# Helpers for the kmeasure end-to-end tests (sourced after tests/lib.sh).
# removed_ok STDERR_FILE: kmeasure ran with --check-removed and said every program it loaded is gone (checked by
# program id, so other crosswalk runs on the machine cannot disturb it)
removed_ok() {
	grep -Eq '^crosswalk: kmeasure: all [1-9][0-9]* BPF programs removed$' "$1" ||
		fail "kmeasure did not confirm its BPF programs removed: $(grep -v '^$' "$1" | tail -2)"
}
# prog_ids PID: the ids of the BPF programs process PID holds (through program and link fds)
prog_ids() {
	grep -hs '^prog_id:' /proc/"$1"/fdinfo/* | awk '{print $2}' | sort -u
}
# ids_gone ID...: every listed BPF program has been released (the kernel frees with the last reference)
ids_gone() {
	command -v bpftool >/dev/null || skip "bpftool not installed"
	for _ in $(seq 20); do
		local left=""
		for id in "$@"; do bpftool prog show id "$id" >/dev/null 2>&1 && left="$left $id"; done
		[ -z "$left" ] && return 0
		sleep 0.2
	done
	fail "BPF programs still loaded:$left"
}

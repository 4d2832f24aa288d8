# Helpers for the kmeasure end-to-end tests (sourced after tests/lib.sh).
# no_kprogs_left: fails unless no kmeasure BPF program ("cwk_*") is loaded; freeing is deferred, so wait a bit
no_kprogs_left() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ "$("$CW" kmeasure --list-progs)" = "0 crosswalk BPF programs loaded" ] && return 0
		sleep 0.3
	done
	fail "BPF programs left loaded: $("$CW" kmeasure --list-progs)"
}

# objpool without rseq: glibc then does not register an rseq area, and the pool must fall back to
# sched_getcpu() for its CPU hint. The unit and stress tests pass the same.
. "$(dirname "$0")/../lib.sh"
cd "$CW_ROOT" || fail "no CW_ROOT"
for t in test_objpool test_objpool_stress; do
	[ -x build/tests/$t ] || fail "build/tests/$t not built"
done
# the tunable exists since glibc 2.35; check that it takes effect before trusting the result
cat > "$TMP/r.c" <<'C'
#include <stdio.h>
#include <sys/rseq.h>
int main(void) { printf("%u\n", __rseq_size); return 0; }
C
cc -o "$TMP/r" "$TMP/r.c" 2>/dev/null || skip "no <sys/rseq.h> (glibc older than 2.35): the pool uses sched_getcpu() anyway"
[ "$(GLIBC_TUNABLES=glibc.pthread.rseq=0 "$TMP/r")" = 0 ] || skip "GLIBC_TUNABLES=glibc.pthread.rseq=0 does not disable rseq here"
export GLIBC_TUNABLES=glibc.pthread.rseq=0 CW_STRESS_MS=300
build/tests/test_objpool > "$TMP/u.log" 2>&1 || { cat "$TMP/u.log"; fail "test_objpool without rseq"; }
build/tests/test_objpool_stress > "$TMP/s.log" 2>&1 || { cat "$TMP/s.log"; fail "test_objpool_stress without rseq"; }
cat "$TMP/s.log"
exit 0

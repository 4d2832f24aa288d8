/* The per-CPU ring object pool: layout, the lock-free ring protocol and its memory-ordering argument. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* sched_getcpu */
#endif
#include "objpool/objpool.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define HAVE_GLIBC_RSEQ 1
#endif

/*
 * Layout
 *
 *   pool ──> slots region (one mmap, zero-filled lazily)          objects region (one mmap)
 *            ┌──────────────────────────────┐                      ┌──────┬──────┬─────┬──────┐
 *            │ slot 0: head tail │ ent[cap] │ ──(offsets)──────>   │ obj0 │ obj1 │ ... │ objN │
 *            │ slot 1: head tail │ ent[cap] │                      └──────┴──────┴─────┴──────┘
 *            │ ...                          │
 *            └──────────────────────────────┘
 *
 * cap = roundup_pow2(nr_objs), so every ring can hold every object and a push never finds its ring full.
 * head and tail share the slot's first cache line: the CPU that owns the slot does both pops and pushes,
 * so in the common case one line bounces nowhere.
 *
 * Why not the kernel's ring as is
 *
 * lib/objpool.c pushes by reserving tail with a cmpxchg, writing the entry, then publishing with
 * `last = tail + 1`. That is correct there because only the owning CPU pushes to its ring, with
 * interrupts off: pushes to one ring never overlap. In user space the current CPU is a hint, read
 * before the operation; a thread can be preempted or migrated between reading it and finishing, and a
 * signal handler can run in the middle of a push on the same thread. Two overlapping pushes A (reserved
 * position t) and B (reserved t + 1) break it: B publishes last = t + 2 before A has written ent[t], and
 * a pop then takes whatever stale pointer sits in ent[t] (an object someone else holds: a duplicate).
 * Any "reserve, then fill" scheme also lets a thread stopped between the two steps block the others
 * (Vyukov's bounded queue has this window), and a signal handler on that same thread would deadlock.
 *
 * The ring protocol used here
 *
 * Every entry is one 64-bit word holding (lap, val): val is 0 for empty or 1 + the object's offset/8,
 * lap is the position's lap number (position >> log2(cap)) truncated to LAP_BITS. Position p of a ring
 * lives in ent[p & mask]; the entry's state for lap L is
 *     EMPTY(L)      ready to receive the push of position L*cap + i
 *     FULL(L, v)    holds object v, pushed at position L*cap + i
 * and a pop turns FULL(L, v) into EMPTY(L + 1), readying the entry for the next lap. Each push and each
 * pop takes effect with ONE compare-and-swap on the entry word: there is no intermediate state that
 * belongs to one thread. head and tail are only cursors (64-bit counters, they never wrap in practice)
 * that tell where to look; the entry's lap tells whether the cursor is current:
 *
 *   push(v): t = tail; e = ent[t & mask]
 *       EMPTY(lap t)       CAS e -> FULL(lap t, v); on success move tail to t + 1, done; on failure
 *                          (another push won) look at the entry again
 *       FULL(lap t) or a later lap: position t is already filled: help, CAS tail t -> t + 1, retry
 *       an earlier lap     the previous lap's object is still there: impossible while the caller
 *                          only pushes objects it popped (I2), reported as -EOVERFLOW
 *   pop(): h = head; e = ent[h & mask]
 *       FULL(lap h, v)     CAS e -> EMPTY(lap h + 1); on success move head to h + 1, return v
 *       EMPTY(lap h)       position h was never filled: the ring is empty, return NULL
 *       a later lap        position h was already consumed: help, CAS head h -> h + 1, retry
 *
 * Invariants. Let F be the number of filled positions and C of consumed ones.
 *  I0 (cursors). Every value ever written to tail is p + 1 for a position p that was filled, with all
 *      positions before p filled too; likewise head and consumed. So tail <= F and head <= C at all
 *      times: a cursor is a lower bound of its frontier. It may lag, even move back (the plain store
 *      in cursor_done), which only costs helping steps, never correctness.
 *  I1 (order). A push fills only a position whose entry shows EMPTY(lap t), and only position F can
 *      (positions below F are FULL or consumed, in a later lap, and laps only grow), so positions are
 *      filled in order 0, 1, 2, ...; the same for consumption (only position C shows FULL in its own lap
 *      below F). Hence C <= F and the positions [C, F) hold FULL entries.
 *  I2 (counting). The objects in [C, F) are distinct objects of the pool and the pushing thread holds
 *      one more, so F - C <= nr_objs - 1 < cap. A push looking at t <= F (I0) therefore finds position
 *      t - cap consumed (t - cap < C): the entry is in lap(t) or later, never in an earlier lap.
 *      (A double push can make the count exceed cap; then an earlier lap shows up, hence -EOVERFLOW.)
 *  I3 (empty). A pop that reads EMPTY(lap h) at position h after reading head == h saw a moment where
 *      C = F = h (C >= h by I0, F <= h since h was not filled, C <= F): the ring really was empty
 *      then, which is when the pop takes effect. A miss on every ring means "every ring was empty at
 *      some moment during the scan", the same guarantee the kernel's pop gives.
 *  ABA. A stale CAS on an entry succeeds only if the word returned to the very same (lap, val), which
 *      needs 2^LAP_BITS laps of that ring while one thread sits between its load and its CAS (2^37 laps
 *      of at least 2 positions each: days at any rate a ring can sustain). Cursors are 64-bit.
 *
 * Progress: lock-free. A thread stopped anywhere (preempted, migrated, interrupted by a signal handler
 * that uses the same pool) leaves every entry in EMPTY or FULL and at worst a cursor behind, which the
 * next thread advances itself. No operation ever waits for another to finish, so a handler that pops
 * and pushes on an interrupted thread cannot deadlock. A failed CAS means another operation succeeded.
 *
 * Memory ordering. Entry loads and CASes and the helping CASes on cursors are sequentially consistent;
 * on x86-64 a seq_cst load is a plain load and every read-modify-write is a locked instruction anyway,
 * so this costs nothing and gives the single total order I1-I3 count in. The one plain store (the
 * cursor move after one's own successful CAS, cursor_done) is argued on x86-TSO: stores become visible
 * in one global order with the locked instructions, loads are not reordered with loads, so a thread
 * that reads tail == t and then an entry reads it at a moment when every fill below t is visible, and
 * I2 holds at that moment; on other architectures cursor_done uses the CAS. What users need on top is
 * that an object's contents written before push are visible to the thread that pops it: the push's
 * entry CAS is a release, the pop's successful CAS reads exactly the value that push wrote (any CAS in
 * between would have changed the word) and is an acquire, so the push happens-before the pop returns.
 * Object contents themselves are plain memory owned by one thread at a time.
 */

/*
 * The miss path: hint words
 *
 * Scanning every ring on a miss costs two dependent loads per ring; the freelist's miss is one load of a
 * NULL head (1.35 ns here; the plain scan of 2 rings took 4.5 ns, the own ring alone 3.2). So the pool
 * keeps hint words: bit r says "ring r may be non-empty". With up to 32 rings a pop reads the word
 * first and, all bits clear, misses without touching any ring: one load, like the freelist's miss. A
 * pop that finds its own ring empty reads the hint words and visits only the rings whose bit is set.
 * The words are written only when a ring is closed (missing pops saw it empty for a while, see "When to
 * close") or reopened (the first push into a closed ring), not on every operation, so they do not become
 * the one contended line the freelist's head is.
 *
 * The invariant the miss relies on, H: at every moment, if ring r's bit is clear, ring r is empty
 * (C = F) and the entry of its frontier position F is CLOSED. So a pop returns NULL only when every
 * ring was empty at the moment the pop read a hint word with that ring's bit clear, or when it visited
 * the ring (I3; the own ring is always visited unless its bit was clear): "every ring was empty at some
 * moment during the pop", exactly the guarantee of the plain scan above (and of the kernel's pop). A set
 * bit on an empty ring is allowed (it costs one visit; a ring that stays empty is closed, see "When to
 * close"); a clear bit on a non-empty ring never happens, so the hint adds no miss that the scan would not
 * have had.
 *
 * A third entry state, CLOSED(L, g) (val = CLOSED_FLAG | g, g a generation), marks an empty ring whose
 * bit may be clear. Pops treat it as EMPTY (position not filled). Two protocols keep H:
 *
 *   close(r) (slot_close; by a pop that found ring r, not its own, empty with r's bit set, and the same
 *       unfilled entry at the same position h for a while, see "When to close"; the pop knew C >= h
 *       from head or from the entries, see "Stealing without the cursor"):
 *       w0 = hint word; e = ent[h]; if e is EMPTY(lap h) or CLOSED(lap h, g):
 *       CAS e -> CLOSED(lap h, g + 1) (from EMPTY: g + 1 = 0), then CAS hint word w0 -> w0 with bit r
 *       cleared. Any failure: give up, the bit stays set (allowed).
 *   push into CLOSED(lap t, g) (slot_push): first reopen, i.e. CAS the hint word to (version + 1, bit r
 *       set), then CAS the entry CLOSED(lap t, g) -> FULL(lap t, v) as for EMPTY; if that CAS fails,
 *       look at the entry again (and reopen again if it is still, or again, CLOSED).
 *
 * Why H holds. Initially every bit is set. A bit is cleared only by a close whose hint CAS succeeded: at
 * its entry CAS the entry at h was unfilled (EMPTY or CLOSED in lap h), and C >= h was known before (C
 * never decreases), so by I1 C = F = h, and the ring was empty with F's entry CLOSED. Between the entry CAS
 * and the hint CAS the position can only be filled by a push that read the new CLOSED value (EMPTY of that
 * lap never comes back once closed, and every older CLOSED value carries a smaller generation), i.e. read
 * it after the entry CAS, hence reopened after the close read w0: the hint word changed and the close's
 * hint CAS fails. A push that reopened before w0 was read and is still to fill expects an older generation;
 * its entry CAS fails, it sees the new CLOSED and reopens again, after the clear. So when the clear
 * succeeds the ring is empty, F's entry is CLOSED, and every later fill of F is preceded by a reopen that
 * sets the bit again; a push into an EMPTY entry never needs the bit, because by H an EMPTY frontier means
 * the bit is set. Why the version: a reopen must change the word even when the bit is already set, or a
 * close that read w0 with the bit set would clear it under the push. The word itself has no ABA: bits
 * are set only together with a version increment (2^32 of them between one close's two reads would be
 * needed). Generations wrap after 2^26 closes of one ring inside one push's load-to-CAS window.
 *
 * All of these are seq_cst operations (locked instructions on x86-64), so the argument is in one total
 * order. Progress stays lock-free: close makes one attempt and never waits; a push whose entry CAS fails
 * does so because a close or another push succeeded. Cost in steady state: one more load on a hit (the
 * hint word, a line that stays cached while no ring changes state); a miss on a pool that has been empty
 * for a while one load; a miss while some bit is set the own ring's two loads plus one load per hint word
 * and two per hinted ring (two entries, usually of one line: "Stealing without the cursor"); a word is
 * written once per close and once per reopen.
 */

/*
 * When to close
 *
 * Closing is never required (H constrains only clear bits), so when to close is a question of cost. The
 * first version closed every ring a miss found empty, its own included when another ring was hinted. On
 * a ring that empties and refills every few microseconds (two threads sharing fewer objects than they
 * ask for: the benchmark's huge misses) that is one close and one reopen per ring and round, each a
 * locked write to a line the other CPU reads next: on the 2-vCPU AMD VM of 2026-12-07, where moving a
 * line between the CPUs costs ~195 ns, two threads got 3.6 M pairs/s (1.2x the freelist), against 5.9 M
 * with no closes at all (the plain scan, which only reads the other ring) and 43.9 M for one thread.
 * The hint words exist for rings that stay empty (an idle CPU's, a pool drained for a long time), so:
 *
 *   - a pop never closes its own ring (alone on the pool, it remembers it in the empty witness below);
 *   - a pop that finds another ring empty closes it only when the same thread found that ring empty, with
 *     the same unfilled entry at the same position (no push and no pop in between: the witness argument
 *     below), at least cw_objpool_idle_ticks earlier (idle_close). A thread-local memo holds one (pool
 *     id, ring, head, entry, time); it moves to another ring when its ring's entry changed (a push, or
 *     the close), or to another pool. A ring that refills within that time is never closed; an idle ring
 *     is closed that long after the first miss that saw it, and many idle rings one after another.
 *
 * The memo only decides whether to attempt a close, and slot_close reads the entry of the position this pop
 * found unfilled again and CASes against what it read, so a memo torn by a signal handler (it has no
 * sequence number) or a stale one can cause an early or a missed close attempt, never a wrong one; it holds
 * no pointer, the entry is found from the pool being popped. The clock is the TSC on x86-64 (a few ns, no
 * system call: pops run inside signal handlers and inside the agent's hooks, where calling into libc could
 * recurse); elsewhere the memo counts the misses that saw the ring unchanged instead. Measured on that VM
 * (bench/queues, interleaved with the old code, medians of 5): huge misses at 2 threads 4.9-7.5 M pairs/s
 * (1.54-2.58x the freelist; ten more runs of that cell 1.66-2.59x), 1 thread unchanged;
 * docs/parts/objpool-results.md has the tables.
 */

/*
 * The empty witness: a miss without closing the own ring
 *
 * With more than one hint word a pop visits its own ring before reading any word, so closing the own
 * ring never makes the closer's next misses cheaper; a pop that found nothing and saw no other ring
 * hinted there simply leaves its ring open (closing is optional: H only constrains clear bits), which
 * in the round below saves the same three locked instructions (a 64-ring pool: 188-192 ns -> 155 ns).
 * The witness is for one hint word, where misses otherwise cost a single load.
 *
 * A thread alone on a pool (1 thread, or rings that no other thread uses) empties its ring on every
 * round of "pop until NULL, push back": with the close above, each round pays a close (entry CAS + hint
 * CAS) and the next push a reopen (hint CAS), measured as 30 ns of a 120 ns round (4 hits, 12 misses) on
 * a Xeon VM where a CAS costs 6.6 ns. Not closing the own ring at all makes every further miss visit it
 * (cur_slot, head, entry: 3.3 ns instead of 1). So instead the thread remembers the empty ring in a
 * thread-local witness (ring bit, entry address, the unfilled value there), and a later miss checks it
 * with the entry's one load.
 *
 *   record (witness_record; by a pop that found nothing, with one hint word, when the hint word it read
 *       after its own ring's miss had no other ring's bit set; otherwise it leaves its ring open):
 *       h = head; e = ent[h]; if e is EMPTY(lap h) or CLOSED(lap h, g): witness = (pool id, bit r, &ent[h], e)
 *   check (witness_holds, in cw_objpool_pop after the hint word w, before any ring): if w's bits are
 *       exactly the witness's bit, the witness is of this pool, and ent[h] still holds e: miss.
 *
 * Why the miss is exact. W: if a load of &ent[h] returns the very value e that the record read after
 * reading head == h, ring r is empty at that load. head == h means C >= h then (I0), and C never
 * decreases. e is an unfilled value of position h's lap, and no entry value ever comes back: a fill
 * turns it into FULL(lap h), which is only followed by later laps, and a close into CLOSED with the next
 * generation (the same 2^37-lap and 2^26-close bounds as above). So position h is still unfilled, F <= h
 * (I1), and C = F = h. The other rings' bits were clear in w, so by H they were empty when w was read.
 * Every ring was thus empty at some moment during the pop: the guarantee of the plain scan, no new miss.
 * H itself is untouched (the witness clears no bit; the remembered ring keeps its bit set, so others
 * still visit it and may close it by the protocol above, which changes the entry and ends the witness).
 * Any push into the ring fills position h first (I1) and so ends the witness too, whoever pushes.
 *
 * The witness's own consistency: it is written and read only by its thread and the signal handlers that
 * interrupt it, so relaxed atomics and signal fences (compiler ordering; a thread sees its own accesses in
 * program order) suffice; but a handler can run between any two of its accesses. A sequence number, odd
 * while a write is in progress: a writer that finds it odd (it interrupted another write) does not write;
 * a reader that finds it odd, or changed after reading the fields, does not use them. A handler runs to
 * completion, so a write it makes inside a read changes the number by 2 and is seen; a write it makes
 * between a writer's parity check and its first store is overwritten in full by that writer. The fields
 * are used only when they all come from one write, so &ent[h] is an entry of the named pool. The pool id
 * is a 64-bit process-wide counter, never reused: a witness of a freed pool at the same address is not
 * taken for the new pool's, and the entry address is only dereferenced once the id matched, i.e. inside
 * the mapping of the pool being popped. A check that finds the entry changed clears the witness's bit
 * field (one store, no sequence number needed: a zero bit field matches no nonempty hint word, so it can
 * only lose a witness, never make one up). Cost: the first hit after a refill pays six thread-local
 * loads and one load of an entry in the line it pops from, later hits two loads; the check is wait-free.
 */

/*
 * Stealing without the cursor
 *
 * A pop from another CPU's ring (pop_bits: the own ring was empty) used to read that ring's head, and a
 * successful one to move it (cursor_done): two cache lines of the owner's (the cursors and the entries),
 * both of which the owner writes on its every pop and push. Huge misses at 2 threads are little else:
 * each thread empties its ring and then spends most of its pops on the other's, so each such pop moved
 * two lines between the CPUs and the owner's next operation moved them back. A thief now touches only the
 * entries (slot_steal) in the common case, and leaves head behind for the owner to advance (the helping
 * CAS on a line the owner holds anyway); I0 allows a cursor to lag any distance.
 *
 * Where to start, then? At a thread-local guess g of the ring's head (head_guess: 16 entries, ring r of
 * pool i at (r + 7i) mod 16, so some rings of different pools, and rings 16 apart, share one): the
 * position after the last one this thread consumed there, or the one it found unfilled. A position g is
 * a safe start when C >= g, and the entries show that without the cursor:
 *
 *   G: if a load of ent[(g - 1) & mask] shows a later lap than position g - 1's, then C >= g from then on.
 *      A later lap in that entry means position g - 1 was consumed (a pop turned FULL(lap) into EMPTY(lap
 *      + 1); every later state of the entry, a fill or a close of position g - 1 + cap or beyond, comes
 *      after that), consumption is in order (I1), and C never decreases.
 *
 * So slot_steal loads ent[g - 1], and only when it shows a later lap starts at g; otherwise (a guess from
 * another pool or another ring, g = 0, or a guess that is simply wrong) it reads head, a lower bound of C
 * by I0. From a start h with C >= h it proceeds exactly as slot_pop does from head: FULL(lap h) means
 * position h is filled and C = h, the CAS consumes it; unfilled in lap h means C = F = h, an empty ring
 * (I3, the miss's witness for idle_close); a later lap means position h was consumed and it moves to h + 1
 * (G again) instead of helping the cursor. No guess, however stale or torn by a signal handler, can make
 * a pop consume out of order or report a miss on a ring that was not empty: the start's soundness comes
 * from the entry, not from the guess. The guess only decides the cost. After WALK_MAX (8) consumed
 * positions in a row (a guess far behind: others stole meanwhile, or another pool's guess), or an entry
 * of an earlier lap (impossible from a start at most C, by I2; from head it is slot_pop's stale read), it
 * falls back to slot_pop_at from head, helping included.
 *
 * Keeping the lag small. If thieves never moved head, it would lag without bound: the owner's next pop
 * would help over every stolen position, one CAS each (10^7 steals: a 60 ms pop), and a thief without a
 * usable guess would walk, and then help, as far. So a thief that consumed position g moves head to g + 1
 * when g + 1 is a multiple of STEAL_ADVANCE (8): cursor_catch_up, one load and at most one CAS, allowed
 * by I0 (g consumed, and all before it), skipped when head is already there or past. The lag behind C is
 * then at most about 8 per thread stealing from the ring at once, and the walk from head short; the cost
 * is one access to the cursor line per 8 steals instead of two per steal and per miss. (An owner
 * preempted between the load and the plain store of cursor_done moves head back when it resumes, undoing
 * the catch-ups made meanwhile; the next pops help over that once, as before this change.)
 *
 * Measured on the AMD EPYC PVM guest of 2026-12-07 (bench/queues interleaved with the previous code,
 * medians of 5), with a line moving between the two vCPUs in ~87 ns and later in ~240 ns: huge misses at
 * 2 threads 9.5-12.1 M pairs/s against 4.6-6.8 M (2.51-4.33x the freelist against 1.38-2.48x; without
 * the catch-up 3.06-4.07x), 4 threads 2.4-2.8x against 1.3-1.9x; 1 thread and the other cases unchanged
 * within the spread. docs/parts/objpool-results.md has the runs.
 */

#define VAL_BITS 27
#define LAP_BITS (64 - VAL_BITS)
#define VAL_MASK ((1ull << VAL_BITS) - 1)
#define LAP_MASK ((1ull << LAP_BITS) - 1)
#define LAP_HALF (1ull << (LAP_BITS - 1))

#define CACHELINE 64

/* The val of a CLOSED entry: bit 26 (never part of an object's val: offsets stay below
 * CW_OBJPOOL_MAX_BYTES = 2^29 with at most 2^24 objects of 8 bytes or more, so val < 2^26) plus a 26-bit
 * close generation. */
#define CLOSED_FLAG (1ull << 26)
#define GEN_MASK (CLOSED_FLAG - 1)

/* Hint words: bit j of word k is ring 32k + j, the upper 32 bits a version bumped by every open. */
#define HINT_RINGS 32
#define HINT_BITS 0xffffffffull
#define HINT_VERSION (1ull << 32)
#define HINT_STRIDE (CACHELINE / sizeof(uint64_t))	/* one cache line per word */

struct slot {
	/* Cursors: counters of positions, lower bounds of the frontiers (I0): moved one position by a
	 * helping CAS, to a thief's position by cursor_catch_up, and by cursor_done's plain store. */
	_Alignas(CACHELINE) uint64_t head;
	uint64_t tail;
	char pad[CACHELINE - 2 * sizeof(uint64_t)];
	uint64_t ent[];
};

struct cw_objpool {
	char *slots;		/* nr_slots slots, slot_stride bytes apart */
	size_t slots_bytes;
	size_t slot_stride;
	char *objs;		/* nr_objs objects, obj_size bytes apart */
	size_t objs_bytes;
	uint64_t mask;		/* cap - 1 */
	uint32_t cap_shift;	/* log2(cap) */
	uint32_t nr_objs;
	uint32_t obj_size;
	uint32_t nr_slots;
	uint32_t nr_hints;	/* ceil(nr_slots / 32) */
	unsigned flags;
	uint64_t id;		/* unique in the process, never reused: names the pool in an empty witness */
	/* Objects not yet accounted for by fini or drop, plus one for the pool itself (as the kernel's
	 * refcount): whoever takes it to zero frees the pool. */
	_Alignas(CACHELINE) int64_t refs;
	int finished;
	/* nr_hints words, one cache line each (see "The miss path"); the first is one load from the pool
	 * pointer, like the freelist's head. */
	_Alignas(CACHELINE) uint64_t hints[];
};

#define LD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define CAS(p, expp, v) \
	__atomic_compare_exchange_n((p), (expp), (v), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

static inline struct slot *slot_at(const struct cw_objpool *pool, uint32_t i)
{
	return (struct slot *)(pool->slots + (size_t)i * pool->slot_stride);
}

static inline uint64_t lap_of(const struct cw_objpool *pool, uint64_t pos)
{
	return (pos >> pool->cap_shift) & LAP_MASK;
}

static inline uint64_t mkent(uint64_t lap, uint64_t val)
{
	return (lap << VAL_BITS) | val;
}

/* Position of the entry's lap relative to lap: 0 same, 1..HALF-1 later, else earlier. */
static inline uint64_t lap_diff(uint64_t e, uint64_t lap)
{
	return ((e >> VAL_BITS) - lap) & LAP_MASK;
}

/* Helping: CAS a cursor from pos to pos + 1; returns the cursor's value afterwards as seen by us. */
static inline uint64_t cursor_help(uint64_t *cur, uint64_t pos)
{
	uint64_t exp = pos;
	if (CAS(cur, &exp, pos + 1))
		return pos + 1;
	return exp;
}

/* After our own successful entry CAS at pos. On x86-64 (TSO) a conditional plain store: it saves a
 * locked instruction per pop and per push (half the cost of a pair). Between the load and the store
 * others may have advanced the cursor past pos + 1; the store then moves it back, which is harmless:
 * every value it takes is a lower bound of its frontier (I0 above), and the stale positions
 * are skipped by helping. Elsewhere the CAS keeps the argument within the C11 model. */
static inline void cursor_done(uint64_t *cur, uint64_t pos)
{
#if defined(__x86_64__)
	if (__atomic_load_n(cur, __ATOMIC_RELAXED) == pos)
		__atomic_store_n(cur, pos + 1, __ATOMIC_RELEASE);
#else
	cursor_help(cur, pos);
#endif
}

static inline void *val_obj(const struct cw_objpool *pool, uint64_t val)
{
	return pool->objs + ((val - 1) << 3);
}

static __thread __attribute__((tls_model("initial-exec"))) uint32_t scatter_state;

/* The thread's empty witness (see "The empty witness"): written and read only by this thread and the
 * signal handlers that interrupt it, hence relaxed atomics ordered by signal fences, and a sequence
 * number that is odd while a write is in progress. */
struct empty_witness {
	uint64_t seq;
	uint64_t pool_id;
	uint64_t bits;		/* the ring's bit in hint word 0 */
	const uint64_t *ep;	/* the ring's entry at the position head showed */
	uint64_t e;		/* its unfilled value then: EMPTY or CLOSED of that position's lap */
};
static __thread __attribute__((tls_model("initial-exec"))) struct empty_witness witness;
static uint64_t next_pool_id;

#define WLD(f) __atomic_load_n(&witness.f, __ATOMIC_RELAXED)
#define WST(f, v) __atomic_store_n(&witness.f, (v), __ATOMIC_RELAXED)
#define SIGFENCE() __atomic_signal_fence(__ATOMIC_SEQ_CST)

static inline uint32_t cur_cpu(void)
{
	int c;

#ifdef HAVE_GLIBC_RSEQ
	if (__builtin_expect(__rseq_size != 0, 1)) {
		const struct rseq *rs =
			(const struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
		c = (int32_t)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);
		if (c >= 0)
			return (uint32_t)c;
	}
#endif
	c = sched_getcpu();
	return c < 0 ? 0 : (uint32_t)c;
}

/* The slot to start with: the current CPU's. Read from glibc's rseq area (one load, kept current by the
 * kernel); the vDSO getcpu when rseq is not registered. Either way it may be stale by the next line. */
static inline uint32_t cur_slot(const struct cw_objpool *pool)
{
	uint32_t cpu;

	if (__builtin_expect(pool->flags & CW_OBJPOOL_F_SCATTER, 0)) {
		uint32_t x = scatter_state;
		if (!x)
			x = (uint32_t)(uintptr_t)&x | 1;
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		scatter_state = x;
		return x % pool->nr_slots;
	}
	cpu = cur_cpu();
	return cpu < pool->nr_slots ? cpu : cpu % pool->nr_slots;
}

/* What a pop finds at a position p that is at most C (p read from head, I0, or shown by the entries, G). */
enum pos_state {
	POS_TAKEN,	/* p held an object of its lap, and this pop consumed it */
	POS_UNFILLED,	/* EMPTY or CLOSED in p's lap: C = F = p, the ring is empty (I3) */
	POS_CONSUMED,	/* a later lap: p was consumed already, C >= p + 1 */
	POS_AHEAD,	/* an earlier lap: impossible for p <= C (I2), so p was read stale */
};

/* Looks at position p of ring s once and, when it holds an object of p's lap, takes it with the pop's one
 * CAS (into *objp). *ep_out is the entry read: for POS_UNFILLED, the witness of the empty ring. Shared by
 * the pop from head (slot_pop_at) and the pop from a guess (slot_steal). */
static inline __attribute__((always_inline)) enum pos_state
pos_take(const struct cw_objpool *pool, struct slot *s, uint64_t p, uint64_t *ep_out, void **objp)
{
	uint64_t *ep = &s->ent[p & pool->mask];
	uint64_t e = LD(ep), lap = lap_of(pool, p), d = lap_diff(e, lap), val = e & VAL_MASK;

	*ep_out = e;
	if (d != 0)
		return d < LAP_HALF ? POS_CONSUMED : POS_AHEAD;
	if (!val || (val & CLOSED_FLAG))
		return POS_UNFILLED;
	if (!CAS(ep, &e, mkent((lap + 1) & LAP_MASK, 0)))
		return POS_CONSUMED;	/* another pop took it: FULL(lap) only ever becomes EMPTY(lap + 1) */
	*objp = val_obj(pool, val);
	return POS_TAKEN;
}

/* Pops from ring s starting at position h (read from head, or any position up to C: see "Stealing
 * without the cursor"). On success *posp is the position consumed; on a miss because the position found
 * was unfilled, *posp is that position and *ep its entry (a witness that the ring was empty at that
 * load), else *posp is UINT64_MAX. */
static inline __attribute__((always_inline)) void *
slot_pop_at(const struct cw_objpool *pool, struct slot *s, uint64_t h, uint64_t *posp, uint64_t *ep_out)
{
	for (;;) {
		void *obj = NULL;
		uint64_t nh;

		switch (pos_take(pool, s, h, ep_out, &obj)) {
		case POS_TAKEN:
			cursor_done(&s->head, h);
			*posp = h;
			return obj;
		case POS_UNFILLED:
			*posp = h;
			return NULL;
		case POS_CONSUMED:
			h = cursor_help(&s->head, h);	/* consumed already: help */
			break;
		case POS_AHEAD:
			nh = LD(&s->head);	/* head must have been read stale */
			if (nh == h) {
				*posp = UINT64_MAX;
				return NULL;
			}
			h = nh;
			break;
		}
	}
}

static inline __attribute__((always_inline)) void *slot_pop(const struct cw_objpool *pool, struct slot *s)
{
	uint64_t pos, e;

	return slot_pop_at(pool, s, LD(&s->head), &pos, &e);
}

/* The thread's guesses of the other rings' heads (see "Stealing without the cursor"), in a small table
 * indexed by ring and pool. Any value is safe: a guess is used only once the entries show it is not past
 * C. */
#define HEAD_GUESSES 16
static __thread __attribute__((tls_model("initial-exec"))) uint64_t head_guess[HEAD_GUESSES];

/* How far a thief walks over consumed positions before it falls back to the cursor (about a line of
 * entries), and how often it moves the cursor after itself (every STEAL_ADVANCE-th position): together
 * they keep what the owner, or a thief without a usable guess, finds behind head small. */
#define WALK_MAX 8
#define STEAL_ADVANCE 8

/* Moves cursor cur forward to pos when it is behind (pos - 1 consumed or filled: I0 allows it). One
 * attempt: a failed CAS means someone moved it meanwhile, usually forward; when it was back (cursor_done)
 * or to a smaller target, the next catch-up or the owner's helping repairs it. */
static __attribute__((noinline)) void cursor_catch_up(uint64_t *cur, uint64_t pos)
{
	uint64_t c = LD(cur);

	if ((int64_t)(pos - c) > 0)
		CAS(cur, &c, pos);
}

/* Pops from ring r, another CPU's, reading and writing only its entries in the common case (see
 * "Stealing without the cursor"). On a miss, *hp and *ep as slot_pop_at's. */
static inline __attribute__((always_inline)) void *
slot_steal(const struct cw_objpool *pool, uint32_t r, uint64_t *hp, uint64_t *ep_out)
{
	struct slot *s = slot_at(pool, r);
	uint64_t *gp = &head_guess[(r + (uint32_t)pool->id * 7) % HEAD_GUESSES];
	uint64_t g = __atomic_load_n(gp, __ATOMIC_RELAXED);
	void *obj = NULL;

	/* C >= g when position g - 1 was consumed: its entry shows a later lap (I1, consumption in order) */
	if (g == 0 || lap_diff(LD(&s->ent[(g - 1) & pool->mask]), lap_of(pool, g - 1)) - 1 >= LAP_HALF - 1)
		g = LD(&s->head);	/* no usable guess: head is a lower bound of C (I0) */
	for (uint32_t steps = 0;;) {
		enum pos_state st = pos_take(pool, s, g, ep_out, &obj);

		if (st == POS_TAKEN) {
			__atomic_store_n(gp, g + 1, __ATOMIC_RELAXED);
			if (__builtin_expect((g + 1) % STEAL_ADVANCE == 0, 0))
				cursor_catch_up(&s->head, g + 1);
			return obj;
		}
		if (st == POS_UNFILLED) {
			__atomic_store_n(gp, g, __ATOMIC_RELAXED);
			*hp = g;
			return NULL;	/* C >= g and position g unfilled: empty (I3) */
		}
		if (st == POS_AHEAD || ++steps > WALK_MAX)
			break;		/* an earlier lap (head read stale), or far behind: the cursor */
		g++;			/* position g consumed: C >= g + 1 */
	}
	obj = slot_pop_at(pool, s, LD(&s->head), hp, ep_out);
	if (*hp != UINT64_MAX)
		__atomic_store_n(gp, *hp + !!obj, __ATOMIC_RELAXED);
	return obj;
}

static inline uint64_t *hint_at(const struct cw_objpool *pool, uint32_t k)
{
	return (uint64_t *)pool->hints + (size_t)k * HINT_STRIDE;
}

/* Sets ring r's bit and bumps the version (see "The miss path": the word must change). */
static __attribute__((noinline)) void hint_open(const struct cw_objpool *pool, uint32_t r)
{
	uint64_t *hw = hint_at(pool, r / HINT_RINGS);
	uint64_t w = LD(hw);

	while (!CAS(hw, &w, (w + HINT_VERSION) | (1ull << (r % HINT_RINGS))))
		;
}

/* A pop found ring r empty while r's bit was set (its own ring: see pop_others): one attempt to close it
 * and clear the bit. Giving up at any point leaves the bit set, which is always allowed. */
static __attribute__((noinline)) void slot_close(const struct cw_objpool *pool, uint32_t r, uint64_t h)
{
	struct slot *s = slot_at(pool, r);
	uint64_t *hw = hint_at(pool, r / HINT_RINGS);
	uint64_t bit = 1ull << (r % HINT_RINGS);
	uint64_t w0 = LD(hw), e, lap, val, nv;
	uint64_t *ep;

	if (!(w0 & bit))
		return;
	ep = &s->ent[h & pool->mask];
	e = LD(ep);
	lap = lap_of(pool, h);
	if (lap_diff(e, lap) != 0)
		return;		/* position h was filled and consumed meanwhile */
	val = e & VAL_MASK;
	if (!val)
		nv = CLOSED_FLAG;
	else if (val & CLOSED_FLAG)
		nv = CLOSED_FLAG | ((val + 1) & GEN_MASK);
	else
		return;		/* filled meanwhile */
	if (!CAS(ep, &e, mkent(lap, nv)))
		return;
	CAS(hw, &w0, w0 & ~bit);
}

static inline __attribute__((always_inline)) int
slot_push(const struct cw_objpool *pool, uint32_t r, uint64_t val)
{
	struct slot *s = slot_at(pool, r);
	uint64_t t = LD(&s->tail);

	for (;;) {
		uint64_t *ep = &s->ent[t & pool->mask];
		uint64_t e = LD(ep);
		uint64_t lap = lap_of(pool, t);
		uint64_t d = lap_diff(e, lap);

		if (d == 0 && (!(e & VAL_MASK) || (e & CLOSED_FLAG))) {
			if (__builtin_expect(e & CLOSED_FLAG, 0))
				hint_open(pool, r);	/* after reading e, before filling it */
			if (CAS(ep, &e, mkent(lap, val))) {
				cursor_done(&s->tail, t);
				return 0;
			}
			continue;	/* filled by another push, or closed again: look again */
		}
		if (d < LAP_HALF) {
			t = cursor_help(&s->tail, t);	/* filled already: help */
			continue;
		}
		/* An earlier lap: the object of position t - cap is still here (I2 broken by a double push). */
		uint64_t nt = LD(&s->tail);
		if (nt == t)
			return -EOVERFLOW;
		t = nt;
	}
}

/* Offset/8 + 1 of obj, or 0 when checking is on and obj is not one of ours. */
static inline uint64_t obj_val(const struct cw_objpool *pool, const void *obj)
{
	uintptr_t off = (uintptr_t)obj - (uintptr_t)pool->objs;

	if (pool->flags & CW_OBJPOOL_F_CHECK) {
		if ((uintptr_t)obj < (uintptr_t)pool->objs || off >= pool->objs_bytes ||
		    off % pool->obj_size)
			return 0;
	}
	return (off >> 3) + 1;
}

/* Reads ring s's head h and the entry there into *hp, *ep; true when that entry is unfilled in h's lap
 * (EMPTY or CLOSED): the ring is empty at that load, and the pair is a witness of it (see "The empty
 * witness"). False when head lags or the position was filled. */
static inline bool head_unfilled(const struct cw_objpool *pool, const struct slot *s, uint64_t *hp,
				 uint64_t *ep)
{
	uint64_t h = LD(&s->head), e = LD(&s->ent[h & pool->mask]), val = e & VAL_MASK;

	*hp = h;
	*ep = e;
	return lap_diff(e, lap_of(pool, h)) == 0 && (!val || (val & CLOSED_FLAG));
}

/* Remembers that ring r (its bit in hint word 0) is empty now, if its head position is unfilled: the
 * witness a later miss checks with one load instead of closing the ring. A signal handler that
 * interrupted a write of the witness leaves it alone. */
static __attribute__((noinline)) void witness_record(const struct cw_objpool *pool, uint32_t r)
{
	struct slot *s = slot_at(pool, r);
	uint64_t h, e, q;

	if (!head_unfilled(pool, s, &h, &e))
		return;		/* head lags, or the ring was refilled: nothing to remember */
	const uint64_t *ep = &s->ent[h & pool->mask];
	q = WLD(seq);
	if (q & 1)
		return;
	WST(seq, q + 1);
	SIGFENCE();
	WST(pool_id, pool->id);
	WST(bits, 1ull << r);
	WST(ep, ep);
	WST(e, e);
	SIGFENCE();
	WST(seq, q + 2);
}

/* After a failed check of a consistent witness: the ring was filled since, so forget the witness (bits 0
 * never equals a nonempty hint word) and the hits until the next miss stop at the bits test. Out of line
 * so that the check itself stays a leaf without a frame. A handler that wrote a new witness between the
 * check and this store loses it, which costs only the next record. */
static __attribute__((noinline, cold)) void witness_forget(void)
{
	WST(bits, 0);
}

/* Whether the witness names a ring of this pool whose bit is `bits` and whose remembered entry still
 * holds the unfilled value: then that ring is empty now. */
static inline bool witness_holds(const struct cw_objpool *pool, uint64_t bits)
{
	uint64_t q = WLD(seq), e;
	const uint64_t *ep;

	SIGFENCE();
	if ((q & 1) || WLD(bits) != bits || WLD(pool_id) != pool->id)
		return false;
	ep = WLD(ep);
	e = WLD(e);
	SIGFENCE();
	if (WLD(seq) != q)
		return false;	/* rewritten by a signal handler meanwhile: ep and e may not match */
	if (__builtin_expect(LD(ep) == e, 1))
		return true;
	witness_forget();
	return false;
}

/* The thread's memo of the first ring its misses found empty (see "When to close"). */
struct idle_memo {
	uint64_t pool_id;
	uint64_t h, e;	/* head, and the unfilled entry there */
	uint64_t t0;	/* when first seen so: TSC, or misses seen so */
	uint32_t r;
};
static __thread __attribute__((tls_model("initial-exec"))) struct idle_memo idle;

#if defined(__x86_64__)
uint64_t cw_objpool_idle_ticks = 1ull << 16; /* TSC ticks: 16-65 us at 1-4 GHz */
static inline uint64_t idle_start(void)
{
	return __builtin_ia32_rdtsc();
}
static inline uint64_t idle_elapsed(void)
{
	return __builtin_ia32_rdtsc() - idle.t0;
}
#else
uint64_t cw_objpool_idle_ticks = 256; /* misses that saw the ring unchanged */
static inline uint64_t idle_start(void)
{
	return 0;
}
static inline uint64_t idle_elapsed(void)
{
	return ++idle.t0;
}
#endif

/* A pop found ring r (not its own) empty: close it if this thread has seen it empty and unchanged for
 * cw_objpool_idle_ticks, else remember it. */
static __attribute__((noinline)) void idle_close(const struct cw_objpool *pool, uint32_t r, uint64_t h,
						 uint64_t e)
{
	if (idle.pool_id == pool->id && idle.r != r && idle.r < pool->nr_slots &&
	    LD(&slot_at(pool, idle.r)->ent[idle.h & pool->mask]) == idle.e)
		return; /* the memo follows another ring that is still as it was: keep it */
	if (idle.pool_id == pool->id && idle.r == r && idle.h == h && idle.e == e) {
		if (idle_elapsed() >= __atomic_load_n(&cw_objpool_idle_ticks, __ATOMIC_RELAXED))
			slot_close(pool, r, h);
		return;
	}
	idle = (struct idle_memo){ .pool_id = pool->id, .h = h, .e = e, .t0 = idle_start(), .r = r };
}

/* Visits the rings whose bit is set in `bits` (of hint word k); the ones found empty may be closed. */
static inline void *pop_bits(struct cw_objpool *pool, uint32_t k, uint64_t bits)
{
	while (bits) {
		uint32_t r = k * HINT_RINGS + (uint32_t)__builtin_ctzll(bits);
		uint64_t h = UINT64_MAX, e = 0;
		void *obj = slot_steal(pool, r, &h, &e);

		if (obj)
			return obj;
		if (h != UINT64_MAX)
			idle_close(pool, r, h, e);
		bits &= bits - 1;
	}
	return NULL;
}

/* Our own ring was empty: the other rings that the hint words say may hold objects, starting after our
 * own (so that missing threads do not all start on ring 0). */
static __attribute__((noinline)) void *pop_others(struct cw_objpool *pool, uint32_t own)
{
	uint32_t k0 = own / HINT_RINGS, b = own % HINT_RINGS;
	uint64_t bits = LD(hint_at(pool, k0)) & HINT_BITS & ~(1ull << b);
	uint64_t after = bits & ~((2ull << b) - 1), seen = bits;
	void *obj;

	if ((obj = pop_bits(pool, k0, after)))
		return obj;
	for (uint32_t k = k0 + 1; k < pool->nr_hints; k++) {
		uint64_t w = LD(hint_at(pool, k)) & HINT_BITS;
		seen |= w;
		if ((obj = pop_bits(pool, k, w)))
			return obj;
	}
	for (uint32_t k = 0; k < k0; k++) {
		uint64_t w = LD(hint_at(pool, k)) & HINT_BITS;
		seen |= w;
		if ((obj = pop_bits(pool, k, w)))
			return obj;
	}
	if ((obj = pop_bits(pool, k0, bits & ~after)))
		return obj;
	/* Nothing anywhere. Our own ring stays open ("When to close": others close it once it stays empty).
	 * If no other ring was hinted we are alone here: with one hint word, remember our empty ring (the
	 * next misses check the witness with one more load); with more, every pop visits its own ring
	 * before the hint words anyway. */
	if (!seen && pool->nr_hints == 1)
		witness_record(pool, own);
	return NULL;
}

static __attribute__((noinline)) void *pop_rings(struct cw_objpool *pool)
{
	uint32_t own = cur_slot(pool);
	void *obj = slot_pop(pool, slot_at(pool, own));

	if (__builtin_expect(obj != NULL, 1))
		return obj;
	return pop_others(pool, own);
}

void *cw_objpool_pop(struct cw_objpool *pool)
{
	/* Up to 32 rings: every bit clear means every ring was empty at this moment (H), a miss for the
	 * price of the freelist's (one load of a line that is written only on closes and reopens). Kept
	 * apart from the ring code (a tail call) so that this test needs no stack frame. */
	if (pool->nr_hints == 1) {
		uint64_t bits = LD(pool->hints) & HINT_BITS;

		if (!bits || witness_holds(pool, bits))
			return NULL;
	}
	return pop_rings(pool);
}

int cw_objpool_push(struct cw_objpool *pool, void *obj)
{
	uint64_t val = obj_val(pool, obj);

	if (!val)
		return -EINVAL;
	if ((pool->flags & CW_OBJPOOL_F_CHECK) && __atomic_load_n(&pool->finished, __ATOMIC_RELAXED))
		return -ESHUTDOWN;
	return slot_push(pool, cur_slot(pool), val);
}

static void pool_free(struct cw_objpool *pool)
{
	if (pool->slots)
		munmap(pool->slots, pool->slots_bytes);
	if (pool->objs)
		munmap(pool->objs, pool->objs_bytes);
	free(pool);
}

int cw_objpool_drop(struct cw_objpool *pool, void *obj)
{
	if (!pool || !obj || !obj_val(pool, obj))
		return -EINVAL;
	if (__atomic_sub_fetch(&pool->refs, 1, __ATOMIC_ACQ_REL) == 0)
		pool_free(pool);
	return 0;
}

int cw_objpool_fini(struct cw_objpool *pool)
{
	int64_t count = 1, left;

	if (!pool)
		return 0;
	__atomic_store_n(&pool->finished, 1, __ATOMIC_SEQ_CST);
	for (uint32_t i = 0; i < pool->nr_slots; i++)
		while (slot_pop(pool, slot_at(pool, i)))
			count++;
	left = __atomic_sub_fetch(&pool->refs, count, __ATOMIC_ACQ_REL);
	if (left == 0)
		pool_free(pool);
	return (int)left;
}

static void *map_zeroed(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int cw_objpool_init(struct cw_objpool **poolp, uint32_t nr_objs, uint32_t obj_size, uint32_t nr_slots,
		    cw_objpool_obj_init_fn *obj_init, void *ctx, unsigned flags)
{
	struct cw_objpool *pool = NULL;
	uint32_t align, shift = 0;
	size_t hints_bytes;
	int err = -EINVAL;

	if (!poolp)
		return -EINVAL;
	*poolp = NULL;
	if (nr_objs == 0 || nr_objs > CW_OBJPOOL_MAX_OBJS || obj_size == 0 ||
	    obj_size > CW_OBJPOOL_MAX_OBJ_SIZE || nr_slots > CW_OBJPOOL_MAX_SLOTS ||
	    (flags & ~(unsigned)(CW_OBJPOOL_F_CHECK | CW_OBJPOOL_F_SCATTER)))
		goto out;
	align = obj_size >= 16 ? 16 : 8;
	obj_size = (obj_size + align - 1) & ~(align - 1);
	if ((uint64_t)obj_size * nr_objs > CW_OBJPOOL_MAX_BYTES)
		goto out;
	if (nr_slots == 0) {
		int n = get_nprocs_conf();
		nr_slots = n < 1 ? 1 : n > (int)CW_OBJPOOL_MAX_SLOTS ? CW_OBJPOOL_MAX_SLOTS : (uint32_t)n;
	}
	while ((1u << shift) < nr_objs)
		shift++;

	err = -ENOMEM;
	/* refs and every hint word have a cache line of their own */
	hints_bytes = (size_t)(nr_slots + HINT_RINGS - 1) / HINT_RINGS * CACHELINE;
	pool = aligned_alloc(CACHELINE, sizeof(*pool) + hints_bytes);
	if (!pool)
		goto out;
	memset(pool, 0, sizeof(*pool) + hints_bytes);
	pool->nr_objs = nr_objs;
	pool->obj_size = obj_size;
	pool->nr_slots = nr_slots;
	pool->flags = flags;
	pool->id = __atomic_add_fetch(&next_pool_id, 1, __ATOMIC_RELAXED);
	pool->cap_shift = shift;
	pool->mask = (1ull << shift) - 1;
	/* 128 bytes between a ring's last entry and the next slot's cursors: no false sharing, even
	 * with the adjacent-line prefetcher. */
	pool->slot_stride = (sizeof(struct slot) + (sizeof(uint64_t) << shift) + 127) & ~(size_t)127;
	pool->slots_bytes = pool->slot_stride * nr_slots;
	pool->objs_bytes = (size_t)obj_size * nr_objs;
	pool->slots = map_zeroed(pool->slots_bytes);
	pool->objs = map_zeroed(pool->objs_bytes);
	pool->nr_hints = (nr_slots + HINT_RINGS - 1) / HINT_RINGS;
	if (!pool->slots || !pool->objs)
		goto out;
	/* Every bit set: "may be non-empty" is always allowed; empty rings get closed by the first miss. */
	for (uint32_t r = 0; r < nr_slots; r++)
		pool->hints[(r / HINT_RINGS) * HINT_STRIDE] |= 1ull << (r % HINT_RINGS);

	/* Objects start spread evenly over the rings in contiguous runs, as in the kernel; EMPTY(0) is the
	 * zero word, so the untouched part of each ring is already in its initial state. */
	for (uint32_t s = 0, i = 0; s < nr_slots; s++) {
		struct slot *sl = slot_at(pool, s);
		uint32_t n = nr_objs / nr_slots + (s < nr_objs % nr_slots);
		for (uint32_t k = 0; k < n; k++, i++) {
			void *obj = pool->objs + (size_t)i * obj_size;
			if (obj_init && (err = obj_init(obj, ctx)) != 0) {
				if (err > 0)
					err = -err;
				goto out;
			}
			sl->ent[k] = mkent(0, obj_val(pool, obj));
		}
		sl->tail = n;
	}
	pool->refs = (int64_t)nr_objs + 1;
	*poolp = pool;
	pool = NULL;
	err = 0;
out:
	if (pool)
		pool_free(pool);
	return err;
}

uint32_t cw_objpool_nr_objs(const struct cw_objpool *pool)
{
	return pool->nr_objs;
}

uint32_t cw_objpool_nr_slots(const struct cw_objpool *pool)
{
	return pool->nr_slots;
}

uint32_t cw_objpool_obj_size(const struct cw_objpool *pool)
{
	return pool->obj_size;
}

void *cw_objpool_obj(const struct cw_objpool *pool, uint32_t i)
{
	return i < pool->nr_objs ? pool->objs + (size_t)i * pool->obj_size : NULL;
}

/* Counted from the entries, not from the cursors: a cursor may lag behind its frontier for good, by
 * any number of positions (the plain store of cursor_done moves it back when its thread was preempted
 * between load and store while others went round the ring), so only the entries are exact in a
 * quiescent pool. Every FULL entry holds an object that is in the ring (a pop turns it into EMPTY of the
 * next lap), whatever its lap: count them. (Walking from head, as this did before, skipped at most one
 * ring's worth of consumed positions and returned 0 for a ring whose head lagged further.) */
uint32_t cw_objpool_slot_count(const struct cw_objpool *pool, uint32_t slot)
{
	struct slot *s;
	uint32_t n = 0;

	if (slot >= pool->nr_slots)
		return 0;
	s = slot_at(pool, slot);
	for (uint64_t k = 0; k <= pool->mask; k++) {
		uint64_t val = LD(&s->ent[k]) & VAL_MASK;
		n += val && !(val & CLOSED_FLAG);
	}
	return n;
}

int cw_objpool_slot_hinted(const struct cw_objpool *pool, uint32_t slot)
{
	if (slot >= pool->nr_slots)
		return 0;
	return !!(LD(hint_at(pool, slot / HINT_RINGS)) & (1ull << (slot % HINT_RINGS)));
}

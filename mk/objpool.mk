# objpool: ThreadSanitizer builds of its unit and stress tests (run by tests/e2e/objpool_tsan.sh as part
# of `make test`), and the raw-queue benchmark against Concurrency Kit, liburcu and a Vyukov ring.

OBJPOOL_SRCS := src/objpool/objpool.c src/objpool/freelist.c
OBJPOOL_HDRS := src/objpool/objpool.h src/objpool/freelist.h
OBJPOOL_TSAN_BINS := $(addprefix $(B)/tsan/,test_objpool test_freelist test_objpool_stress)
# The library sources are compiled into each test with the sanitizer; util and libbpf are not needed.
OBJPOOL_TSAN_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -Isrc \
	-fsanitize=thread -fno-omit-frame-pointer

.PHONY: objpool-tsan bench-queues
objpool-tsan: $(OBJPOOL_TSAN_BINS)
test: objpool-tsan

$(OBJPOOL_TSAN_BINS): $(B)/tsan/%: tests/unit/%.c $(OBJPOOL_SRCS) $(OBJPOOL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(OBJPOOL_TSAN_CFLAGS) -o $@ $< $(OBJPOOL_SRCS) -lcmocka -lpthread

# bench/queues: `make bench-queues` builds and runs it (about 3 minutes on 2 CPUs); QUEUES_ARGS passes
# options through, e.g. QUEUES_ARGS="-d 100 -r 3".
$(B)/bench/queues: bench/queues/queues.c $(OBJPOOL_SRCS) $(OBJPOOL_HDRS)
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -Isrc -o $@ $< \
		$(OBJPOOL_SRCS) -lck -lurcu-memb -lurcu-cds -lurcu-common -lpthread -lm

bench: bench-queues
bench-queues: $(B)/bench/queues
	@mkdir -p bench/results
	$(B)/bench/queues -o bench/results/queues.json $(QUEUES_ARGS)

# examples: the bundled demo's programs (select_server, epoll_server, loadgen) in build/examples/, built like
# Debian builds its servers: -O2 -g, no frame pointers, so the profiler's .eh_frame unwinding is what makes
# their stacks. `crosswalk demo` finds them next to the binary (build/crosswalk -> build/examples/).
EX_NAMES := select_server epoll_server loadgen
EX_BINS  := $(addprefix $(B)/examples/, $(EX_NAMES))

all: $(EX_BINS)

$(B)/examples/%: examples/%.c examples/request.c examples/request.h
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -o $@ $< examples/request.c

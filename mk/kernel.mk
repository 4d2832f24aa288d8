# Kernel-measurement part: the x86-64 syscall name table, generated from the system's <asm/unistd_64.h>
# (the numbers are ABI, so the build machine's header is right for every kernel).
$(B)/gen/cw_syscalls.h:
	@mkdir -p $(@D)
	echo '#include <asm/unistd_64.h>' | $(CC) -dM -E - | \
	  sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9][0-9]*\)$$/CW_SYSCALL(\1, \2)/p' > $@.tmp && mv $@.tmp $@

$(B)/obj/src/kernel/ksyscalls.o: $(B)/gen/cw_syscalls.h

# The VM test's library client (tests/vm/kinsert.c), built with the rest and copied into the VM's initramfs.
all: $(B)/vm/kinsert
$(B)/vm/kinsert: tests/vm/kinsert.c $(B)/libcrosswalk.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libcrosswalk.a $(LDLIBS)

.PHONY: bench-kernel
bench-kernel: all
	bench/kernel/run.sh

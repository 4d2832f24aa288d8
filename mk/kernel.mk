# Kernel-measurement part. (The syscall table is the call graph's: mk/cfg.mk.)

# The VM test's library client (tests/vm/kinsert.c), built with the rest and copied into the VM's initramfs.
all: $(B)/vm/kinsert
$(B)/vm/kinsert: tests/vm/kinsert.c $(B)/libcrosswalk.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libcrosswalk.a $(LDLIBS)

.PHONY: bench-kernel
bench-kernel: all
	bench/kernel/run.sh

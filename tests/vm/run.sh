#!/bin/bash
# Boots Debian's own kernel (linux-image-6.1.0-*-amd64, fetched with apt-get download and cached) under
# qemu-system-x86_64 with an initramfs built here (busybox-static, build/crosswalk with exactly the libraries
# ldd names and the loader, the test workloads, tests/vm/tests.sh), and reads the results from the serial
# console. Exit 0 all passed, 77 skipped (qemu cannot run here; reason printed), 1 a test failed.
#   tests/vm/run.sh [bench]   with "bench", runs tests/vm/bench.sh instead and prints its CWBENCH lines
#   CW_VM_CACHE  where the kernel package is kept (default ~/.cache/crosswalk/vm)
#   CW_VM_TIMEOUT seconds before the VM is killed (default 280)
#   CW_VM_ACCEL   qemu accelerator (default tcg)
set -u
mode=${1:-tests}
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${CW_VM_CACHE:-$HOME/.cache/crosswalk/vm}
timeout_s=${CW_VM_TIMEOUT:-280}
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "FAIL: $*"; exit 1; }

qemu=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 not installed (Debian package qemu-system-x86)"
bb=/bin/busybox
[ -x $bb ] && ! ldd $bb >/dev/null 2>&1 || skip "busybox-static not installed (/bin/busybox must be static)"
for f in crosswalk vm/kinsert workloads/kfunc_counts workloads/faults workloads/syscall_loop; do
	[ -x "$root/build/$f" ] || die "build/$f missing (run make first)"
done

# the kernel: the newest 6.1 Debian kernel package the archive offers, cached
mkdir -p "$cache"
deb=$(ls -1 "$cache"/linux-image-6.1.0-*-amd64_*.deb 2>/dev/null | sort -V | tail -1)
if [ -z "$deb" ]; then
	pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null | awk '{print $1}' | sort -V | tail -1)
	[ -n "$pkg" ] || skip "no linux-image-6.1.0-*-amd64 package known to apt (apt-get update?)"
	(cd "$cache" && apt-get download -q "$pkg" >/dev/null 2>&1) || skip "apt-get download $pkg failed (offline?)"
	deb=$(ls -1 "$cache"/linux-image-6.1.0-*-amd64_*.deb | sort -V | tail -1)
fi
kver=$(basename "$deb" | sed 's/^linux-image-\(6\.1\.0-[0-9]*-amd64\)_.*/\1/')
vmlinuz="$cache/vmlinuz-$kver"
if [ ! -s "$vmlinuz" ]; then
	x=$(mktemp -d)
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$x" ./boot/vmlinuz-$kver || die "cannot extract vmlinuz from $deb"
	mv "$x/boot/vmlinuz-$kver" "$vmlinuz"
	rm -rf "$x"
fi

# the initramfs: small, so that TCG boots it fast
work=$(mktemp -d /tmp/cw-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
ir=$work/root
mkdir -p $ir/{bin,cw/wl,proc,sys,dev,tmp,etc}
cp $bb $ir/bin/busybox
cp "$root/tests/vm/init" $ir/init
cp "$root/tests/vm/tests.sh" "$root/tests/vm/bench.sh" $ir/cw/
cp "$root/build/crosswalk" "$root/build/vm/kinsert" $ir/cw/
cp "$root/build/workloads/kfunc_counts" "$root/build/workloads/faults" "$root/build/workloads/syscall_loop" $ir/cw/wl/
for b in "$root/build/crosswalk" "$root/build/vm/kinsert" $ir/cw/wl/*; do
	ldd "$b" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'
done | sort -u | while read -r lib; do
	mkdir -p "$ir$(dirname "$lib")"
	cp -L "$lib" "$ir$lib"
done
(cd $ir && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > $work/initrd.gz || die "cannot build the initramfs"

# TCG by default: /dev/kvm may exist without working nested virtualization (here it hangs at the boot ROM)
accel=${CW_VM_ACCEL:-tcg}
log=$root/build/test-logs/vm-console.log
[ "$mode" = bench ] && log=$root/build/test-logs/vm-console-bench.log
mkdir -p "$(dirname "$log")"
echo "booting $kver under qemu ($accel), initramfs $(du -k $work/initrd.gz | cut -f1) KiB, console in $log"
start=$(date +%s)
timeout --foreground -k 5 "$timeout_s" "$qemu" -accel $accel -m 1024 -smp 1 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd $work/initrd.gz \
	-append "console=ttyS0 panic=-1 quiet loglevel=3 mitigations=off cw.script=$mode.sh" </dev/null > "$log" 2>&1
rc=$?
tr -d '\r' < "$log" > "$log.tmp" && mv "$log.tmp" "$log"
echo "VM ran $(( $(date +%s) - start )) s (qemu exit $rc)"
[ "$mode" = tests ] && grep '^CWVM: ' "$log"
grep -q 'CWVM: BOOTED' "$log" || { [ $rc = 124 ] && die "VM did not boot within ${timeout_s}s"; die "VM did not boot (qemu exit $rc)"; }
grep -q '^CWVM: DONE' "$log" || die "VM tests did not finish (timeout ${timeout_s}s or crash; see $log)"
if [ "$mode" = bench ]; then
	grep '^CWBENCH: ' "$log"
	exit 0
fi
npass=$(grep -c '^CWVM: PASS' "$log"); nfail=$(grep -c '^CWVM: FAIL' "$log")
echo "VM tests: $npass passed, $nfail failed"
[ "$nfail" = 0 ] && [ "$npass" -gt 0 ] || exit 1
exit 0

# 47-failinit: kpeek.ko's init fails part-way and unwinds: no file and no memory left behind,
# the module not loaded, and it then loads and works.
#
# With the kernel's fault injection (the debug kernel, vmtest/run --kernel debug): every
# allocation kpeek.ko's init makes fails in turn (fail-nth, counting only allocations with a
# kpeek frame on the stack), and kmemleak looks for leaks. Stock kernels have no fault
# injection; there the fail_init_step=N parameter makes init fail in place of step N, for every
# N, which proves the unwinding order but not each step's own error paths.
. /kpeek/guest/lib.sh
. /kpeek/guest/fi-lib.sh

unload_all
sync
echo 3 >/proc/sys/vm/drop_caches
slab0=$(mem_kb Slab)

# left_files: what a failed init must not leave behind
left_files() {
	left=""
	for f in $PROC $SYS $CFS $DBG /sys/module/kpeek /dev/kpeek; do [ -e $f ] && left="$left $f"; done
	echo "$left"
}

if fi_available; then
	echo "47-failinit: kernel fault injection present: failing each allocation of kpeek.ko's init (fail-nth); fail_init_step is not used"
	fi_setup || { fail "fault injection setup" "writing $FI/failslab and fail_page_alloc failed"; exit 1; }
	fi_leaks_start
	# after each load: loaded -> unload; failed -> nothing left
	load_cleanup='if loaded kpeek; then rmmod kpeek || fail "N=$n: rmmod after a load" "failed"; else
		l=$(left_files); [ -z "$l" ] || fail "N=$n: failed init leaves no file" "left:$l"; fi'
	fi_sweep "init under fail-nth" "ok ENOMEM" "$load_cleanup" -- load $KO/kpeek.ko
	fi_off
	check "loads after the failures" insmod $KO/kpeek.ko
	check "works after the failures" sh -c "mkdir $CFS/groups/f && rmdir $CFS/groups/f"
	fi_leaks "failed inits"
	rmmod kpeek
	fi_dmesg_check "failed inits"
else
	echo "47-failinit: NOTE: this kernel has NO fault injection (no /proc/self/fail-nth, no $FI/failslab):"
	echo "47-failinit: NOTE: init failures are forced with fail_init_step only; the debug kernel lane fails each allocation"
	# kpeek_main.c's steps: sysfs, procfs, debugfs, core, ring, probes, mmap, peek, netlink,
	# chardev, configfs, and one past the last.
	STEPS=12
	n=1 failures=0
	while [ $n -le 20 ]; do
		if out=$(insmod $KO/kpeek.ko fail_init_step=$n 2>&1); then
			break
		fi
		failures=$((failures + 1))
		echo "$out" | grep -q "Operation canceled" || fail "step $n errno" "insmod said: $out"
		check_eq "fail_init_step=$n leaves no file" "$(left_files)" ""
		check "fail_init_step=$n: not loaded" sh -c '! grep -q "^kpeek " /proc/modules'
		n=$((n + 1))
	done
	check_eq "init failed at each of its $STEPS steps" "$failures" $STEPS
	if loaded kpeek; then
		pass "loads with fail_init_step=$n (past the last step)"
		check "works after the failures" sh -c "mkdir $CFS/groups/f && rmdir $CFS/groups/f"
		rmmod kpeek
	else
		fail "fail_init_step" "never loaded up to 20"
	fi
	# Again, to churn memory.
	n=1
	while [ $n -le $STEPS ]; do insmod $KO/kpeek.ko fail_init_step=$n 2>/dev/null; n=$((n + 1)); done
	# (Not on the debug kernel: KASAN's quarantine holds freed objects, kmemleak checks there.)
	sync
	echo 3 >/proc/sys/vm/drop_caches
	slab1=$(mem_kb Slab)
	if [ $((slab1 - slab0)) -lt 512 ]; then pass "no slab growth from failed inits (${slab0} -> ${slab1} kB)"; else
		fail "failed inits leak" "Slab ${slab0} -> ${slab1} kB"; fi
fi
check "clean load" load_all
check_eq "and works" "$(cat $SYS/info)" $ABI_VERSION

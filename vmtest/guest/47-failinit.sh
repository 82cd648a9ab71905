# 47-failinit: fail_init_step=N makes init fail at step N, for every N; each failure leaves no
# file and no memory behind, and the module then loads and works.
. /kpeek/guest/lib.sh

unload_all
sync
echo 3 >/proc/sys/vm/drop_caches
slab0=$(mem_kb Slab)
# kpeek_main.c's steps: sysfs, procfs, debugfs, core, ring, probes, mmap, peek, netlink, chardev,
# configfs, and one past the last.
STEPS=12
n=1 failures=0
while [ $n -le 20 ]; do
	if out=$(insmod $KO/kpeek.ko fail_init_step=$n 2>&1); then
		break
	fi
	failures=$((failures + 1))
	echo "$out" | grep -q "Operation canceled" || fail "step $n errno" "insmod said: $out"
	left=""
	for f in $PROC $SYS $CFS $DBG /sys/module/kpeek /dev/kpeek; do [ -e $f ] && left="$left $f"; done
	check_eq "fail_init_step=$n leaves no file" "$left" ""
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
sync
echo 3 >/proc/sys/vm/drop_caches
slab1=$(mem_kb Slab)
if [ $((slab1 - slab0)) -lt 512 ]; then pass "no slab growth from failed inits (${slab0} -> ${slab1} kB)"; else
	fail "failed inits leak" "Slab ${slab0} -> ${slab1} kB"; fi
check "clean load" load_all
check_eq "and works" "$(cat $SYS/info)" $ABI_VERSION

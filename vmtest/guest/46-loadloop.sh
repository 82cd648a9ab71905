# 46-loadloop: 20 load/use/unload cycles leak nothing. Each cycle creates 500 counters in 5
# groups, so a leaked counter (~450 bytes with its per-CPU slots) would show as >4 MB of slab.
. /kpeek/guest/lib.sh

cycle() {
	insmod $KO/kpeek.ko || return 1
	insmod $KO/kpeek_example.ko || return 1
	dd if=/dev/zero of=/dev/kpeek_example bs=64 count=10 2>/dev/null
	for g in a b c d e; do
		mkdir $CFS/groups/$g && (cd $CFS/groups/$g && names 100 c | xargs mkdir)
	done
	cat $PROC >/dev/null
	for g in a b c d e; do
		(cd $CFS/groups/$g && names 100 c | xargs rmdir) && rmdir $CFS/groups/$g
	done
	rmmod kpeek_example && rmmod kpeek
}

unload_all
cycle && cycle && cycle   # warm up slab caches
sync
echo 3 >/proc/sys/vm/drop_caches
slab0=$(mem_kb Slab) pcpu0=$(mem_kb Percpu) avail0=$(mem_kb MemAvailable) vm0=$(mem_kb VmallocUsed)
ok=0 i=0
while [ $i -lt 20 ]; do
	cycle && ok=$((ok + 1))
	for f in $PROC $SYS $CFS $DBG /sys/module/kpeek /dev/kpeek_example; do
		[ -e $f ] && echo "leftover after cycle $i: $f"
	done
	i=$((i + 1))
done
check_eq "20 cycles succeeded" "$ok" 20
sync
echo 3 >/proc/sys/vm/drop_caches
sleep 1
slab1=$(mem_kb Slab) pcpu1=$(mem_kb Percpu) avail1=$(mem_kb MemAvailable) vm1=$(mem_kb VmallocUsed)
echo "slab ${slab0} -> ${slab1} kB, percpu ${pcpu0} -> ${pcpu1} kB, vmalloc ${vm0} -> ${vm1} kB, available ${avail0} -> ${avail1} kB"
# Allow 1 MB of noise (other caches in a live kernel move a little).
if [ $((slab1 - slab0)) -lt 1024 ]; then pass "slab did not grow (${slab0} -> ${slab1} kB)"; else
	fail "slab leak" "Slab grew ${slab0} -> ${slab1} kB over 20 cycles"; fi
if [ $((pcpu1 - pcpu0)) -lt 256 ]; then pass "per-CPU memory did not grow (${pcpu0} -> ${pcpu1} kB)"; else
	fail "per-CPU leak" "Percpu grew ${pcpu0} -> ${pcpu1} kB over 20 cycles"; fi
if [ $((vm1 - vm0)) -lt 512 ]; then pass "vmalloc did not grow (${vm0} -> ${vm1} kB)"; else
	fail "vmalloc leak" "VmallocUsed grew ${vm0} -> ${vm1} kB over 20 cycles"; fi
# kpeek allocates only slab and per-CPU memory (checked tightly above). MemAvailable also moves
# with page tables, lazily freed module mappings and the like (6.12 drifts ~4 MB here), so it
# only catches gross leaks: 16 MB is 800 kB per cycle.
if [ $((avail0 - avail1)) -lt 16384 ]; then pass "MemAvailable did not collapse (${avail0} -> ${avail1} kB)"; else
	fail "memory leak" "MemAvailable dropped ${avail0} -> ${avail1} kB over 20 cycles"; fi
check "no leftover file" sh -c "test ! -e $PROC && test ! -e $SYS && test ! -e $CFS && test ! -e $DBG"

# Inside one load, debugfs accounts every byte back once RCU has run.
load_all
b0=$(stat_get bytes)
mkdir $CFS/groups/acc && (cd $CFS/groups/acc && names 200 c | xargs mkdir)
b1=$(stat_get bytes)
(cd $CFS/groups/acc && names 200 c | xargs rmdir) && rmdir $CFS/groups/acc
sleep 1
check_eq "debugfs rcu_pending drains to 0" "$(stat_get rcu_pending)" 0
check_eq "debugfs bytes back to the start" "$(stat_get bytes)" "$b0"
if [ "$b1" -gt "$b0" ]; then pass "debugfs bytes grew with 200 counters ($b0 -> $b1)"; else
	fail "debugfs bytes" "did not grow: $b0 -> $b1"; fi

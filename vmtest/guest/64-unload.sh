# 64-unload: kpeek.ko cannot be unloaded while /dev/kpeek is open or mapped (counters or a ring,
# even after close()), and unloads once both are gone, in either order; 20 cycles of load, use
# and unload leak nothing.
. /kpeek/guest/lib.sh

ip link set lo up
rmmod kpeek_example
kpeekdev pin close-first
check "unloaded (close, then munmap)" sh -c '! grep -q "^kpeek " /proc/modules'
insmod $KO/kpeek.ko
kpeekdev pin unmap-first
check "unloaded (munmap, then close)" sh -c '! grep -q "^kpeek " /proc/modules'
insmod $KO/kpeek.ko
kpeekdev pin ring
check "unloaded (ring mapped, probe writing, closed first)" sh -c '! grep -q "^kpeek " /proc/modules'

exec 3</dev/null
insmod $KO/kpeek.ko
exec 3</dev/kpeek
expect_err "rmmod with the device open in the shell" EAGAIN rmmod kpeek
exec 3<&-
check "rmmod after the shell closed it" rmmod kpeek

sync
echo 3 >/proc/sys/vm/drop_caches
slab0=$(mem_kb Slab)
ok=0
i=0
while [ $i -lt 20 ]; do
	insmod $KO/kpeek.ko || break
	if ! out=$(kpeekdev snap && kpeekdev mmap-dump && kpeekdev ring 65536 50 2>&1); then
		echo "$out" | grep -v '^PASS' | tail -5
		break
	fi
	rmmod kpeek || break
	ok=$((ok + 1))
	i=$((i + 1))
done
check_eq "20 cycles of load, read, map, ring, unload" "$ok" 20
sync
echo 3 >/proc/sys/vm/drop_caches
slab1=$(mem_kb Slab)
if [ $((slab1 - slab0)) -lt 512 ]; then pass "no slab growth over 20 cycles (${slab0} -> ${slab1} kB)"; else
	fail "20 cycles leak" "Slab ${slab0} -> ${slab1} kB"; fi
load_all

# 43-params-bounds: max_groups and max_counters are bounded at load, so every size derived from
# them fits (the counters mapping is max_counters 80-byte slots; its size is a u32 in
# kpeek_info). A value whose mapping size would wrap a u32 once made MMAP_SYNC write past the
# mapping; now the load is refused with EINVAL and says why.
. /kpeek/guest/lib.sh

unload_all || { fail "unload" "could not unload"; exit 1; }
# 53687092 * 80 + 32 bytes = 4 GiB + 32: the old u32 computation gave one page.
expect_err "max_counters=53687092 (mapping > 4 GiB) refused" EINVAL \
	insmod $KO/kpeek.ko max_counters=53687092
check "the refusal names the parameter" sh -c 'dmesg | grep -q "max_counters=53687092 is above its limit 16777216"'
expect_err "max_counters=16777217 (one above the limit) refused" EINVAL \
	insmod $KO/kpeek.ko max_counters=16777217
expect_err "max_groups=1048577 refused" EINVAL insmod $KO/kpeek.ko max_groups=1048577
check "not loaded after the refusals" sh -c '! grep -q "^kpeek " /proc/modules'
check "max_counters=16777216 (the limit) loads" insmod $KO/kpeek.ko max_counters=16777216
check_eq "param reads back" "$(cat $PARAMS/max_counters)" 16777216
rmmod kpeek
# A large but allowed cap: the mapping is exactly its size, and sync + read work past one page
# of slots.
check "max_counters=100000 loads" insmod $KO/kpeek.ko max_counters=100000
mkdir $CFS/groups/big
for i in $(seq 1 80); do mkdir $CFS/groups/big/c$i; done
check_eq "80 counters (more than one page of slots) in the mapping" \
	"$(kpeekdev mmap-dump | grep -c '^big ')" 80
for i in $(seq 1 80); do rmdir $CFS/groups/big/c$i; done
rmdir $CFS/groups/big
rmmod kpeek
check "normal load again" load_all

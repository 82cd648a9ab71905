# 63-ring: event rings fed by the netif_receive_skb probe (dev=lo) from loopback UDP traffic:
# records arrive in order, per-CPU seq gaps == lost, poll() wakes at the watermark; probe filters
# (pid, dev, min_len) and counts, also in /proc/kpeek's kpeek_probes group.
. /kpeek/guest/lib.sh

ip link set lo up || fail "lo up" "ip link set lo up failed"
check_eq "no kpeek_probes group before the first probe" "$(grep -c '^kpeek_probes ' $PROC)" 0
kpeekdev ring 4096 400
kpeekdev ring 1048576 400
kpeekdev ring-poll
kpeekdev probe-check
# netif_receive_skb is still enabled (dev=eth9): its counters are in every channel.
for c in netif_receive_skb_hits netif_receive_skb_matched sched_switch_hits \
	block_rq_issue_matched; do
	check "kpeek_probes $c in /proc/kpeek" grep -q "^kpeek_probes $c [0-9]" $PROC
done
check "sched_switch_hits > 0" sh -c "[ $(proc_value kpeek_probes sched_switch_hits) -gt 0 ]"
expect_err "the probes group is not configfs's to remove" ENOENT rmdir $CFS/groups/kpeek_probes
dmesg -c >/dev/null
check "rmmod with a probe enabled" unload_all
check "nothing left in sysfs" test ! -e $SYS
load_all
check_eq "a fresh load has no kpeek_probes group" "$(grep -c '^kpeek_probes ' $PROC)" 0

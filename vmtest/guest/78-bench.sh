# 78-bench: the channel table (16 and 1,000 counters through procfs, sysfs, configfs, debugfs,
# read(), ioctl, mmap and netlink: median and p99 per snapshot, ratio to the fastest), every
# channel returning the written values, the mmap snapshot at least 50x faster than procfs; and
# kpeek's rings against perf tracepoint rings on the same workloads (loopback UDP with
# netif_receive_skb, ping-pong with sched_switch): traced by kpeek each workload runs at least as
# fast as traced by perf (median of 3 rounds), with no larger a share of records lost.
. /kpeek/guest/lib.sh

command -v kpeek-guest >/dev/null || { fail "/bin/kpeek-guest present" "missing: did the static Rust build fail?"; exit 1; }
[ -c /dev/kpeek ] || { fail "/dev/kpeek present" "no character device"; exit 1; }
ip link set lo up 2>/dev/null

kpeek-guest bench --sizes 16,1000 --budget-ms 300 --min-mmap-vs-procfs 50 \
	--ring-seconds 1 --rounds 3 --min-ring-vs-perf 1.0
rc=$?
check "no bench group left behind" test ! -e $CFS/groups/bench16 -a ! -e $CFS/groups/bench1000
exit $rc

# 78-bench: the channel table (16 and 1,000 counters through procfs, sysfs, configfs, debugfs,
# read(), ioctl, mmap and netlink: median and p99 per snapshot, ratio to the fastest), every
# channel returning the written values; and kpeek's rings against perf tracepoint rings on the
# same workloads (loopback UDP with netif_receive_skb, ping-pong with sched_switch): both tracers
# account for every event of the workload (records read + records counted lost), kpeek's readers
# read every record written and every seq gap is counted lost. The speed ratios (mmap vs procfs,
# kpeek vs perf) are printed as benchmark figures: a loaded TCG guest gives any ratio, so none
# is asserted.
. /kpeek/guest/lib.sh

command -v kpeek-guest >/dev/null || { fail "/bin/kpeek-guest present" "missing: did the static Rust build fail?"; exit 1; }
[ -c /dev/kpeek ] || { fail "/dev/kpeek present" "no character device"; exit 1; }
ip link set lo up 2>/dev/null

kpeek-guest bench --sizes 16,1000 --budget-ms 300 --ring-seconds 1 --rounds 3
rc=$?
check "no bench group left behind" test ! -e $CFS/groups/bench16 -a ! -e $CFS/groups/bench1000
exit $rc

# 75-ring-stress: kpeek's per-CPU event rings under load on every CPU (netif_receive_skb in
# softirq from loopback UDP, sched_switch from ping-pong threads), drained concurrently by one
# reader per CPU that pauses now and then, and is stopped once until every online CPU's ring has
# overflowed (deterministic on every kernel, however slow the producers): no duplicate or reordered seq
# within a CPU, every seq gap accounted exactly by that ring's lost counter, records read =
# written, correct framing and fields (kpeek-guest ring-stress).
. /kpeek/guest/lib.sh

command -v kpeek-guest >/dev/null || { fail "/bin/kpeek-guest present" "missing: did the static Rust build fail?"; exit 1; }
[ -c /dev/kpeek ] || { fail "/dev/kpeek present" "no character device: is kpeek.ko built with the char device?"; exit 1; }
ip link set lo up 2>/dev/null

# A one-page ring and readers that sleep up to 100 ms: slow guests (the 32-bit one) overflow too.
kpeek-guest ring-stress --seconds 4 --ring-size 4096 --pause-ms 100
rc=$?
# Nothing left attached: the probes' hit counters stand still.
h1=$(proc_value kpeek_probes netif_receive_skb_hits)
sleep 1
h2=$(proc_value kpeek_probes netif_receive_skb_hits)
check_eq "probes detached after the stress (hits stand still)" "$h2" "$h1"
exit $rc

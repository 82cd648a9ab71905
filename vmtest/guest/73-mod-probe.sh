# 73-mod-probe: `kpeek mod probe enable|disable|show` through ioctl and netlink: the state and
# filter land in the kernel (PROBE_GET), hits count, non-root is refused with a clear message,
# bad filters are refused before the kernel sees them.
. /kpeek/guest/lib.sh

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }
ip link set lo up

check "enable netif_receive_skb dev=lo min_len=50 (ioctl)" \
	kpeek mod probe enable netif_receive_skb --filter dev=lo --filter min_len=50
ping -c 2 -s 100 127.0.0.1 >/dev/null 2>&1
line=$(kpeek mod probe show | grep '^netif_receive_skb ' | tr -s ' ')
case "$line" in
"netif_receive_skb yes no "*" dev=lo,min_len=50") pass "show: enabled, no ring, filter" ;;
*) fail "show: enabled, no ring, filter" "$line" ;;
esac
matched=$(echo "$line" | cut -d' ' -f5)
check "show: at least 4 matched (2 pings, request + reply)" test "$matched" -ge 4
check_eq "the counter group agrees" "$(kpeek mod counters --via ioctl --group kpeek_probes --json | grep -c netif_receive_skb_matched)" 1
check "disable (netlink)" kpeek mod probe disable netif_receive_skb --via netlink
check "show --json: disabled" sh -c "kpeek mod probe show --json | grep -q '\"enabled\":false,.*\"probe\":\"netif_receive_skb\"'"
check "enable sched_switch pid=1 --ring (netlink)" kpeek mod probe enable sched_switch --filter pid=1 --ring --via netlink
check_eq "show: sched_switch" "$(kpeek mod probe show | grep '^sched_switch ' | tr -s ' ' | cut -d' ' -f2,3,6)" "yes yes pid=1"
check "disable sched_switch" kpeek mod probe disable sched_switch

for via in ioctl netlink; do
	out=$(as_user kpeek mod probe enable netif_receive_skb --via $via 2>&1)
	case "$?:$out" in
	2:*"root"*) pass "user: probe enable via $via refused, says root" ;;
	*) fail "user: probe enable via $via refused, says root" "$out" ;;
	esac
done
out=$(kpeek mod probe enable sched_switch --filter dev=lo 2>&1)
case "$?:$out" in
2:*"does not apply to sched_switch"*) pass "dev filter on sched_switch: refused before the kernel" ;;
*) fail "dev filter on sched_switch: refused before the kernel" "$out" ;;
esac
out=$(as_user kpeek mod events --count 1 2>&1)
case "$?:$out" in
2:*"/dev/kpeek is root-only"*) pass "user: events says root-only" ;;
*) fail "user: events says root-only" "$out" ;;
esac

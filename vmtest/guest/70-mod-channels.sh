# 70-mod-channels: after a known workload on kpeek_example (7 writes of 100 bytes, 5 reads of 64
# bytes), `kpeek mod counters --via X --json` prints exactly the same values through every
# channel: procfs, sysfs, debugfs, chardev (read), ioctl, mmap and netlink; configfs and every channel
# agree on a configfs group; whole snapshots are identical; non-root gets a clear message.
. /kpeek/guest/lib.sh

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }
VIAS="procfs sysfs debugfs chardev ioctl mmap netlink"

check "reset kpeek_example" kpeek mod group reset kpeek_example
dd if=/dev/zero of=/dev/kpeek_example bs=100 count=7 2>/dev/null
dd if=/dev/kpeek_example of=/dev/null bs=64 count=5 2>/dev/null
want='{"group":"kpeek_example","counter":"bytes_read","value":320}
{"group":"kpeek_example","counter":"bytes_written","value":700}
{"group":"kpeek_example","counter":"reads","value":5}
{"group":"kpeek_example","counter":"writes","value":7}'
for via in $VIAS; do
	check_eq "--via $via: exact values after 7 writes, 5 reads" \
		"$(kpeek mod counters --via $via --group kpeek_example --json 2>&1)" "$want"
done

check "group create app70" kpeek mod group create app70
check "counter create app70/hits" kpeek mod counter create app70 hits
check "counter create app70/max" kpeek mod counter create app70 max
check "set app70/hits 42" kpeek mod counter set app70 hits 42
check "set app70/max 2^64-1" kpeek mod counter set app70 max 18446744073709551615
want='{"group":"app70","counter":"hits","value":42}
{"group":"app70","counter":"max","value":18446744073709551615}'
for via in configfs $VIAS; do
	check_eq "--via $via: app70" "$(kpeek mod counters --via $via --group app70 --json 2>&1)" "$want"
done

# Whole snapshots: every channel prints the same lines (the probes' own counters move on their
# own while a probe is enabled, so that group is left out).
snap() { kpeek mod counters --via $1 --json 2>&1 | grep -v '"group":"kpeek_probes"'; }
ref=$(snap procfs)
n=$(echo "$ref" | wc -l)
for via in sysfs debugfs chardev ioctl mmap netlink; do
	check_eq "--via $via: the whole snapshot equals procfs's ($n counters)" "$(snap $via)" "$ref"
done
check_eq "text table via mmap" "$(kpeek mod counters --via mmap --group app70)" \
"GROUP  COUNTER                 VALUE
app70  hits                       42
app70  max      18446744073709551615"

# 1,000 counters in one group: paged ioctl reads, a multi-message netlink dump, a large mapping.
kpeek mod group create big70 >/dev/null
for i in $(seq 1 1000); do mkdir $CFS/groups/big70/c$i; done
ref=$(snap procfs)
for via in debugfs chardev ioctl mmap netlink; do
	check_eq "--via $via: equal to procfs with 1,000 more counters" "$(snap $via)" "$ref"
done
check "delete big70" kpeek mod group delete big70

# Without root: /dev/kpeek is 0600, netlink reads are open to everyone.
for via in chardev ioctl mmap; do
	out=$(as_user kpeek mod counters --via $via 2>&1)
	rc=$?
	case "$rc:$out" in
	2:*"/dev/kpeek is root-only (0600): run as root"*) pass "user --via $via: exit 2, says root-only" ;;
	*) fail "user --via $via: exit 2, says root-only" "exit $rc: $out" ;;
	esac
done
out=$(as_user kpeek mod counters --via debugfs 2>&1)
case "$?:$out" in
2:*"debugfs is readable by root only"*) pass "user --via debugfs: exit 2, says root only" ;;
*) fail "user --via debugfs: exit 2, says root only" "$out" ;;
esac
check_eq "user --via netlink reads app70" "$(as_user kpeek mod counters --via netlink --group app70 --json 2>&1)" "$want"
check "group delete app70" kpeek mod group delete app70

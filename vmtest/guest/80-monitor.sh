# 80-monitor: after a known workload on kpeek_example, `kpeek watch --json` (default channel
# mmap, and procfs) and `kpeek serve` (scraped over loopback) show kpeek.ko's counters equal to
# /proc/kpeek; reloading the module while `kpeek watch --via procfs` runs shows a reset (never
# a negative rate), and the error rows while it is gone.
. /kpeek/guest/lib.sh

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }
ip link set lo up
load_all || { fail "load modules" "insmod failed"; exit 1; }

kpeek mod group reset kpeek_example >/dev/null
dd if=/dev/zero of=/dev/kpeek_example bs=100 count=7 2>/dev/null
dd if=/dev/kpeek_example of=/dev/null bs=64 count=5 2>/dev/null
# The mapping is refreshed every mmap_refresh_ms (100 ms by default).
sleep 1

# "group counter value" lines of kpeek_example, from /proc/kpeek and from the monitor.
want=$(grep '^kpeek_example ' $PROC | sort)
from_watch() {
	# Text lines: VALUE RATE mod:counter{group=G,counter=C}
	kpeek watch --kpeek "$@" --count 1 -i 200ms |
		sed -n 's/^ *\([0-9][0-9]*\) .* mod:counter{group=\(kpeek_example\),counter=\([a-z_]*\)}$/\2 \3 \1/p' | sort
}
check_eq "kpeek watch (mmap): kpeek_example equals /proc/kpeek" "$(from_watch)" "$want"
check_eq "kpeek watch --via procfs: equals /proc/kpeek" "$(from_watch --via procfs)" "$want"
json=$(kpeek watch --kpeek --json --count 1 -i 200ms)
if echo "$json" | grep -Eq '"labels":\{"counter":"writes","group":"kpeek_example"\},"name":"counter","rate":[^,]*,"reset":false,"source":"mod","unit":"","value":7\}'; then
	pass "kpeek watch --json: kpeek_example/writes = 7"
else
	fail "kpeek watch --json: kpeek_example/writes = 7" "$(echo "$json" | head -c 600)"
fi

# kpeek serve, over loopback.
kpeek serve --kpeek --listen 127.0.0.1:9432 2>/tmp/serve.err &
spid=$!
i=0
while ! wget -q -O /tmp/metrics http://127.0.0.1:9432/metrics 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 50 ] && break
	sleep 0.2
done
got=$(sed -n 's/^kpeek_mod_counter_total{group="\(kpeek_example\)",counter="\([a-z_]*\)"} \([0-9]*\)$/\1 \2 \3/p' /tmp/metrics | sort)
check_eq "kpeek serve: kpeek_example equals /proc/kpeek" "$got" "$want"
check "kpeek serve: source success" grep -q '^kpeek_scrape_source_success{source="mod"} 1$' /tmp/metrics
check "kpeek serve: capabilities dropped" grep -q '^CapEff:.0000000000000000$' /proc/$spid/status
kill $spid
wait $spid 2>/dev/null

# A reload while watching through procfs (the mmap channel keeps the module in use).
kpeek watch --kpeek --via procfs --json -i 300ms >/tmp/watch.json 2>/tmp/watch.err &
wpid=$!
sleep 1.2
rmmod kpeek_example && rmmod kpeek
sleep 0.9
insmod $KO/kpeek.ko && insmod $KO/kpeek_example.ko
dd if=/dev/zero of=/dev/kpeek_example bs=100 count=2 2>/dev/null
sleep 1.5
kill $wpid
wait $wpid 2>/dev/null
check "watch showed the module gone as an error row" grep -q '"errors":\[{"error":"kpeek.ko' /tmp/watch.json
# The first block after the reload where writes is back: value 2, reset true.
check "reload shows as a reset of kpeek_example/writes" \
	grep -Eq '"labels":\{"counter":"writes","group":"kpeek_example"\},"name":"counter","rate":null,"reset":true,"source":"mod","unit":"","value":[02]\}' /tmp/watch.json
if grep -q '"rate":-' /tmp/watch.json; then
	fail "no negative rate across the reload" "$(grep -o '"rate":-[^,]*' /tmp/watch.json | head -3)"
else
	pass "no negative rate across the reload"
fi

# 71-mod-events: `kpeek mod events` streams the netif_receive_skb probe's ring records for
# loopback pings: two records (echo request and reply) per ping, each `dev = "lo"` with
# len = 20 (IPv4) + 8 (ICMP) + SIZE exactly; lttng-view text and JSON; min_len filters; the end
# summary counts no loss; the probe's earlier configuration is restored.
. /kpeek/guest/lib.sh

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }
ip link set lo up || fail "lo up" "ip link set lo up failed"
kpeek mod probe disable netif_receive_skb >/dev/null 2>&1

# Text: 3 pings of 100 bytes -> 6 records of len 128.
if start_events /tmp/ev.out /tmp/ev.err --probe netif_receive_skb --filter dev=lo --count 6 --duration 30s; then
	ping -c 3 -s 100 127.0.0.1 >/dev/null 2>&1
	wait $ev_pid
	check_eq "events exits 0" $? 0
	check_eq "6 records printed" "$(wc -l </tmp/ev.out)" 6
	check_eq "every record: lo, len 20+8+100" \
		"$(sed 's/.*}, { dev/{ dev/' /tmp/ev.out | sort -u)" '{ dev = "lo", len = 128 }'
	re='^\[[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]{9}\] \(\+([0-9]+\.[0-9]{9}|\?\.\?{9})\) [^ ]+ netif_receive_skb: \{ cpu_id = [0-9]+ \}, \{ pid = -?[0-9]+ \}, \{ dev = "lo", len = 128 \}$'
	check_eq "lttng-view line format" "$(grep -Ecv "$re" /tmp/ev.out)" 0
	check_eq "first delta is +?.?????????" "$(head -1 /tmp/ev.out | grep -c '(+?.?????????)')" 1
	check "summary: 6 printed, nothing lost" grep -q "^kpeek: 6 events printed, [0-9]* read; lost: 0 (seq gaps), 0 (rings' lost counters since start)$" /tmp/ev.err
	sed -n 1,2p /tmp/ev.out | sed 's/^/    | /'
fi

# JSON and a min_len filter: pings of 100 bytes (len 128) are filtered out, 300 (len 328) pass.
if start_events /tmp/ev.out /tmp/ev.err --probe netif_receive_skb --filter dev=lo --filter min_len=200 --json --count 4 --duration 30s; then
	ping -c 2 -s 100 127.0.0.1 >/dev/null 2>&1
	ping -c 2 -s 300 127.0.0.1 >/dev/null 2>&1
	wait $ev_pid
	check_eq "JSON: 4 records" "$(wc -l </tmp/ev.out)" 4
	check_eq "JSON: all lo, len 328, IPv4" \
		"$(sed 's/.*"event":/"event":/' /tmp/ev.out | sort -u)" '"event":"netif_receive_skb","dev":"lo","len":328,"protocol":2048}'
	check_eq "JSON: per-CPU seq and cpu fields" "$(grep -c '^{"ts_ns":[0-9]*,"seq":[0-9]*,"cpu":[0-9]*,"pid":-\{0,1\}[0-9]*,' /tmp/ev.out)" 4
fi

# --duration ends a quiet stream; the probe is left as it was (disabled).
start_events /tmp/ev.out /tmp/ev.err --filter dev=lo --duration 1s && wait $ev_pid
check_eq "quiet --duration 1s: no records" "$(wc -l </tmp/ev.out)" 0
check "probe restored: disabled" sh -c "kpeek mod probe show --json | grep -q '\"enabled\":false,.*\"probe\":\"netif_receive_skb\"'"

# A filter for another interface sees none of the loopback traffic.
if start_events /tmp/ev.out /tmp/ev.err --filter dev=eth9 --duration 2s; then
	ping -c 2 127.0.0.1 >/dev/null 2>&1
	wait $ev_pid
	check_eq "dev=eth9 filter: no lo records" "$(wc -l </tmp/ev.out)" 0
fi

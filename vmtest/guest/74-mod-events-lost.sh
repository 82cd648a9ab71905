# 74-mod-events-lost: a one-page ring whose reader is stopped (SIGSTOP) during a context-switch
# storm overflows, whatever the kernel's speed: `kpeek mod events` reports the lost records in place
# ({"lost":N,"cpu":C} lines), their sum equals the summary's seq-gap count, and that count is
# within the rings' own lost counters (losses after a CPU's last record show only there).
. /kpeek/guest/lib.sh

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }
rm -f /tmp/lost.out /tmp/lost.err
start_bg /tmp/lost.out /tmp/lost.err "reading the rings" kpeek mod events --probe sched_switch \
	--ring-size 4096 --watermark 4000 --json --duration 600s || exit 1
p=$bg_pid
sleep 1
# Every fork, exec and exit switches tasks: hundreds of records against a 56-record ring that
# nobody reads meanwhile.
kill -STOP $p
storm() { for i in $(seq 1 300); do /bin/true; done; }
storm &
storm
wait $!
kill -CONT $p
# Records after the losses (these show them as seq gaps in place), then Ctrl-C: the storm's
# length under TCG varies too much for a --duration.
sleep 3
kill -INT $p
wait $p
check_eq "events exits 0" $? 0
records=$(grep -c '"event":"sched_switch"' /tmp/lost.out)
inline=$(sed -n 's/^{"cpu":[0-9]*,"lost":\([0-9]*\)}$/\1/p' /tmp/lost.out | awk '{ s += $1 } END { print s + 0 }')
summary=$(tail -1 /tmp/lost.err)
gaps=$(echo "$summary" | sed -n 's/.*; lost: \([0-9]*\) (seq gaps), \([0-9]*\) (rings.*/\1/p')
kernel=$(echo "$summary" | sed -n 's/.*; lost: \([0-9]*\) (seq gaps), \([0-9]*\) (rings.*/\2/p')
echo "    records $records, lost in place $inline, summary: $summary"
check "records were read" test "$records" -gt 0
check "the ring overflowed (kernel lost counter > 0)" test "${kernel:-0}" -gt 0
check "losses reported in place" test "$inline" -gt 0
check_eq "in-place losses == the summary's seq gaps" "$inline" "$gaps"
check "seq gaps <= the rings' lost counters" test "$gaps" -le "$kernel"
check_eq "no out-of-order or malformed records" "$(grep -c 'out-of-order' /tmp/lost.err)" 0

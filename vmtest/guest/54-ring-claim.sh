# 54-ring-claim: the event rings have one owner, the open file that set them up (ABI 4): a
# second reader gets EBUSY from RING_SETUP, mmap and RING_CONSUME, and `kpeek mod events` run
# twice says the rings are taken; ring pages are read-only (a store is SIGSEGV, mprotect is
# refused); RING_CONSUME only moves tail forward over published records; the claim ends with its
# owner (also one killed while mapped), and a mapping keeps its rings alive across close() and
# across the owner replacing them.
. /kpeek/guest/lib.sh

ip link set lo up || fail "lo up" "ip link set lo up failed"
kpeekdev ring-claim

# Two concurrent `kpeek mod events`: the second is refused, clearly, and the first is unharmed.
command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }
if start_events /tmp/ev1.out /tmp/ev1.err --probe netif_receive_skb --filter dev=lo --count 4 --duration 30s; then
	kpeek mod events --probe netif_receive_skb --filter dev=lo --count 1 --duration 5s \
		>/tmp/ev2.out 2>/tmp/ev2.err
	rc=$?
	check "the second reader fails (exit $rc)" test "$rc" != 0
	check "and says the rings belong to another reader" \
		grep -q "belong to another open /dev/kpeek" /tmp/ev2.err
	check "and names the errno (EBUSY)" grep -qi "busy" /tmp/ev2.err
	sed 's/^/    | /' /tmp/ev2.err
	ping -c 2 -s 100 127.0.0.1 >/dev/null 2>&1
	wait $ev_pid
	check_eq "the first reader still gets its 4 records and exits 0" "$? $(wc -l </tmp/ev1.out)" "0 4"
fi
# Once the first exited, the rings are free again.
if start_events /tmp/ev3.out /tmp/ev3.err --probe netif_receive_skb --filter dev=lo --count 2 --duration 30s; then
	ping -c 1 -s 100 127.0.0.1 >/dev/null 2>&1
	wait $ev_pid
	check_eq "a reader after the first one exited gets its records" "$? $(wc -l </tmp/ev3.out)" "0 2"
fi
# The probes this test enabled made the kpeek_probes group: a fresh load for the next tests.
check "rmmod after the test" unload_all
load_all

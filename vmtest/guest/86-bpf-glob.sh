# 86-bpf-glob: `kpeek bpf count` with `~` globs that need the segment matcher (a middle
# segment searched with a bounded loop, a class, an anchored suffix) on this kernel's
# verifier: the ping packets on lo counted exactly, and a glob that cannot match lo counts
# none of them. Needs Linux 5.5+; bounded loops (5.3) are part of that.
. /kpeek/guest/lib.sh

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs tracefs $T
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up

# A 32-bit kernel (686-pae) refuses kpeek's tracepoint programs (85-bpf says why): the glob
# program is refused the same way, with nothing left loaded.
if [ "$(uname -m)" != x86_64 ]; then
	echo "NOTE: $(uname -m) kernel: kpeek bpf count with a glob filter is refused here (programs for 64-bit kernels only)"
	timeout 120 kpeek bpf count net:netif_receive_skb --by name --filter 'name ~ "*[k-m]*o"' \
		--count 1 --json >/dev/null 2>/tmp/glob.err
	check_eq "kpeek bpf count with a glob refused (exit 2)" $? 2
	check "the refusal names the verifier" grep -q "verifier rejected BPF program" /tmp/glob.err
	check_eq "no kpeek BPF program left loaded" \
		"$(kpeek bpf progs --sample 0 --json | grep -o '"name":"kpk_[a-z_]*"')" ""
	exit
fi

# 1371 data bytes: IP packets of 1399 bytes; 5 pings give 10 packets on lo.
if start_bg /tmp/glob.out /tmp/glob.err "counting" timeout 120 kpeek bpf count net:netif_receive_skb \
	--by name --filter '(name ~ "*[k-m]*o" || name ~ "*x?z*") && len == 1399' --count 10 --json; then
	ping -c 5 -s 1371 -i 0.2 127.0.0.1 >/dev/null 2>&1
	wait $bg_pid
	check_eq "glob count exits 0" $? 0
	last=$(tail -1 /tmp/glob.out)
	check_eq "glob *[k-m]*o: lo, 10 packets" \
		"$(echo "$last" | grep -o '"entries":\[[^]]*\]')" '"entries":[{"count":10,"key":{"name":"lo"}}]'
	check_eq "glob: nothing lost" "$(echo "$last" | grep -o '"lost":[0-9]*')" '"lost":0'
else
	fail "kpeek bpf count with a glob started" "$(cat /tmp/glob.err)"
fi

# The inverted glob: no lo packet, whatever else arrives.
if start_bg /tmp/glob.out /tmp/glob.err "counting" timeout 120 kpeek bpf count net:netif_receive_skb \
	--by name --filter 'name ~ "!*[k-m]?" && len == 1399' --duration 3s --json; then
	ping -c 5 -s 1371 -i 0.2 127.0.0.1 >/dev/null 2>&1
	wait $bg_pid
	check_eq "inverted glob exits 0" $? 0
	check_eq "inverted glob !*[k-m]?: no lo packet" \
		"$(tail -1 /tmp/glob.out | grep -o '"name":"lo"')" ""
else
	fail "kpeek bpf count with an inverted glob started" "$(cat /tmp/glob.err)"
fi

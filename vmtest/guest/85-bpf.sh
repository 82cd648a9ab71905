# 85-bpf: `kpeek bpf count` on this kernel, no module involved: the ping packets received on lo
# (requests and replies of a size nothing else sends) counted exactly by name with a string
# filter, a log2 histogram of their length, and nothing of kpeek's left loaded afterwards.
# Needs Linux 5.5+ (bpf_probe_read_kernel_str); every vmtest kernel has it.
. /kpeek/guest/lib.sh

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs tracefs $T
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up

# A 32-bit kernel (686-pae): the verifier rejects kpeek's tracepoint programs (they are built for
# 64-bit kernels' context layouts). Tested as that refusal, with a NOTE, and nothing left loaded.
if [ "$(uname -m)" != x86_64 ]; then
	echo "NOTE: $(uname -m) kernel: kpeek bpf count is refused here (programs for 64-bit kernels only)"
	timeout 120 kpeek bpf count net:netif_receive_skb --by name --count 1 --json >/dev/null 2>/tmp/bpf.err
	check_eq "kpeek bpf count refused (exit 2)" $? 2
	check "the refusal names the verifier" grep -q "verifier rejected BPF program" /tmp/bpf.err
	check_eq "no kpeek BPF program left loaded" \
		"$(kpeek bpf progs --sample 0 --json | grep -o '"name":"kpk_[a-z_]*"')" ""
	exit
fi

# 1371 data bytes: IP packets of 1399 bytes; 6 pings give 12 packets on lo.
if start_bg /tmp/bpf.out /tmp/bpf.err "counting" timeout 120 kpeek bpf count net:netif_receive_skb \
	--by name --filter 'name == "lo" && len == 1399' --hist len --count 12 --json; then
	ping -c 6 -s 1371 -i 0.2 127.0.0.1 >/dev/null 2>&1
	wait $bg_pid
	check_eq "kpeek bpf count exits 0" $? 0
	last=$(tail -1 /tmp/bpf.out)
	check_eq "one key, lo, 12 packets" \
		"$(echo "$last" | grep -o '"entries":\[{"count":[0-9]*,.*"key":{[^}]*}}\]' | sed 's/"hist":\[[^]]*\],//')" \
		'"entries":[{"count":12,"key":{"name":"lo"}}]'
	check_eq "log2 histogram: all 12 in [1K, 2K)" \
		"$(echo "$last" | grep -o '"hist":\[[^]]*\]')" '"hist":[{"bucket":"[1K, 2K)","count":12,"max":2048,"min":1024}]'
	check_eq "nothing lost" "$(echo "$last" | grep -o '"lost":[0-9]*')" '"lost":0'
else
	fail "kpeek bpf count started" "$(cat /tmp/bpf.err)"
fi
# kpeek's programs are named kpk_<event>; none may remain after it exited.
left=$(kpeek bpf progs --sample 0 --json | grep -o '"name":"kpk_[a-z_]*"')
check_eq "no kpeek BPF program left loaded" "$left" ""
left=$(kpeek bpf maps --json | grep -o '"name":"kpeek_[a-z_]*"')
check_eq "no kpeek BPF map left" "$left" ""

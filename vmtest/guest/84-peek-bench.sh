# 84-peek-bench: readings per second of `kpeek peek --watch 0` per backend, beside the bare loop
# of KPEEK_IOC_PEEK a C program can do at best (peektest bench) in the same boot, as a ratio:
# whole-process (start-up included) and the reading loop alone (the time of a --count 1 run,
# start-up and one reading, taken off).
# Under TCG these are the emulator's figures, not the hardware's; the ratio is what carries over.
# Checked: each run printed every reading, and the value read is plain_counter's reads (without
# CONFIG_KALLSYMS_ALL located through its .ko's sections; the backends that cannot read refuse,
# checked).
. /kpeek/guest/lib.sh

nfail=0
fail() {
	nfail=$((nfail + 1))
	echo "FAIL: $1: $2"
}
command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing"; exit 1; }
loaded plain_counter || insmod $KO/plain_counter.ko
cs() { sed 's/^\([0-9]*\)\.\([0-9][0-9]\).*/\1\2/' /proc/uptime; } # centiseconds since boot

# Without CONFIG_KALLSYMS_ALL (Debian's 686-pae) kallsyms does not list plain_counter:reads: kpeek
# locates it through the .ko's sections, and the bare loop reads the address kpeek found. On a
# 32-bit kernel bpf (no BTF) and kcore (ELF32) are refused, and that refusal (exit 2, the
# reason) is checked instead of a figure.
expr=plain_counter:reads
if awk '$3 == "init_task" && NF == 3 { f = 1 } END { exit !f }' /proc/kallsyms; then
	addr=0x$(awk '$3 == "reads" && $4 == "[plain_counter]" { print $1; exit }' /proc/kallsyms)
else
	echo "NOTE: no data symbols in /proc/kallsyms (CONFIG_KALLSYMS_ALL off): plain_counter:reads is located through its .ko's sections"
	j=$(kpeek peek --json $expr)
	check_eq "$expr located through the sections" \
		"$(echo "$j" | sed -n 's/.*"located":"\([a-z]*\)".*/\1/p')" sections
	addr=$(echo "$j" | sed -n 's/.*"addr":"\(0x[0-9a-f]*\)".*/\1/p')
fi
what=${expr%% *}
n=200000
bench=$(peektest bench $addr 8 $n)
check "peektest bench at $what ($addr): $n ioctls ($bench)" sh -c "echo '$bench' | grep -q '^reads=$n '"
base=$(echo "$bench" | sed -n 's/.*per_s=\([0-9]*\).*/\1/p')
echo "INFO: bench: bare KPEEK_IOC_PEEK loop (peektest bench, 8 bytes): ${base:-?} reads/s"

want=$(kpeek peek --json $expr | sed -n 's/.*"value":\([0-9]*\).*/\1/p')
check "$what reads as a number ('$want')" test -n "$want"
for v in kpeek bpf kcore; do
	if ! err=$(kpeek peek --via $v $expr 2>&1 >/dev/null); then
		if [ "$(uname -m)" != x86_64 ] && [ $v != kpeek ]; then
			case $v in
			bpf) text="which has no BTF" ;;
			kcore) text="not a 64-bit little-endian ELF file" ;;
			esac
			kpeek peek --via $v $expr >/dev/null 2>&1
			rc=$?
			if [ $rc = 2 ] && echo "$err" | grep -qF -- "$text"; then
				pass "--via $v: refused on this 32-bit kernel (exit 2, '$text'): no figure"
			else
				fail "--via $v: refused on this 32-bit kernel" "exit $rc with '$err', want 2 and '$text'"
			fi
		else
			fail "--via $v opens" "$err"
		fi
		continue
	fi
	s=$(cs)
	kpeek peek --via $v $expr --watch 0 --count 1 >/tmp/w1.txt
	s1=$(cs)
	kpeek peek --via $v $expr --watch 0 --count $n >/tmp/w.txt
	e=$(cs)
	check_eq "$v: --watch 0 --count $n printed $n readings" "$(wc -l </tmp/w.txt)" "$n"
	check_eq "$v: every reading is $what ($want)" \
		"$(grep -cx "$what = $want.*" /tmp/w.txt)" "$n"
	d=$((e - s1))
	[ $d -gt 0 ] || d=1
	rate=$((n * 100 / d))
	ratio=$(awk -v r=$rate -v b="${base:-0}" 'BEGIN { if (b > 0) printf "%.2f", r / b; else print "?" }')
	echo "INFO: bench: kpeek peek --via $v --watch 0: $n readings in $((d * 10)) ms = $rate reads/s (${ratio}x the bare ioctl loop)"
	# The loop alone: less the start-up (a --count 1 run).
	l=$((d - (s1 - s)))
	if [ $l -gt 0 ]; then
		lrate=$(((n - 1) * 100 / l))
		ratio=$(awk -v r=$lrate -v b="${base:-0}" 'BEGIN { if (b > 0) printf "%.2f", r / b; else print "?" }')
		echo "INFO: bench: kpeek peek --via $v --watch 0, loop alone: $((n - 1)) readings in $((l * 10)) ms (start-up $(((s1 - s) * 10)) ms) = $lrate reads/s (${ratio}x the bare ioctl loop)"
	else
		echo "INFO: bench: kpeek peek --via $v --watch 0, loop alone: too short to time (start-up $(((s1 - s) * 10)) ms)"
	fi
done
[ $nfail = 0 ]

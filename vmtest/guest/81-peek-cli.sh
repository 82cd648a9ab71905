# 81-peek-cli: `kpeek peek` through every backend the guest kernel offers (kpeek.ko, bpf, kcore)
# against the kernel's own figures: jiffies between two reads of /proc/timer_list,
# init_task.comm, init_uts_ns.name.release = uname -r, nr_threads = /proc/loadavg's total,
# plain_counter:reads/writes exact after a known workload (typed from the DWARF of the .ko that
# modules.dep names), per-CPU variables (runqueues@cpuN.cpu = N, @sum.nr_switches between two
# ctxt reads), the backends and both per-CPU methods agreeing, every bad input, and a non-root
# user refused by each backend. Then reads per second of --watch per backend (figures only).
. /kpeek/guest/lib.sh

# vmtest counts a --guest-script by its exit code: every FAIL line makes it non-zero.
nfail=0
fail() {
	nfail=$((nfail + 1))
	echo "FAIL: $1: $2"
}

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }
loaded plain_counter || insmod $KO/plain_counter.ko


# jv JSON: the "value" of one --json line (numbers and strings without escapes)
jv() { echo "$1" | sed -n 's/.*"value":"\{0,1\}\([^",}]*\)"\{0,1\}[,}].*/\1/p'; }
# jf JSON KEY: a string field of one --json line
jf() { echo "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }
peekv() { jv "$(kpeek peek --json "$@" 2>&1)"; }
timer_jiffies() { awk '/^jiffies:/ { print $2; exit }' /proc/timer_list; }
ctxt() { awk '$1 == "ctxt" { print $2 }' /proc/stat; }

expect_code() { # NAME CODE TEXT CMD...: CMD exits CODE, stderr contains TEXT
	name=$1 code=$2 text=$3
	shift 3
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$code" ] && echo "$err" | grep -qF -- "$text"; then pass "$name"; else
		fail "$name" "'$*' exited $rc with '$(echo "$err" | tail -1)', want $code and '$text'"; fi
}

# A kernel without CONFIG_KALLSYMS_ALL (Debian's 686-pae) lists no data symbols in kallsyms: a
# global variable can be located there only through kpeek.ko, which also asks the kernel's
# export table (GPL-only exports everywhere; init_uts_ns is one) and knows the few exported
# variables it links to (jiffies_64), and not at all when it is not exported. What is tested there: the refusals with their reason, the exported variable at the
# address the C client gets, functions and addresses resolving and reading, and a module's
# variable read through its .ko's sections.
if ! awk '$3 == "init_task" && NF == 3 { f = 1 } END { exit !f }' /proc/kallsyms; then
	echo "NOTE: no data symbols in /proc/kallsyms (CONFIG_KALLSYMS_ALL off): only exported variables can be located, through kpeek.ko"
	if [ "$(uname -m)" = x86_64 ]; then
		kcore=kcore
		expect_code "kcore: init_uts_ns refused, saying why" 2 "lists no kernel data symbols" \
			kpeek peek --via kcore init_uts_ns
	else
		# /proc/kcore of a 32-bit kernel is an ELF32 file: the kcore backend refuses it.
		kcore=""
		expect_code "kcore: a 32-bit kernel's /proc/kcore refused, saying why" 2 \
			"not a 64-bit little-endian ELF file" kpeek peek --via kcore init_uts_ns
	fi
	expect_code "nr_threads (not exported): refused, saying why" 2 "lists no kernel data symbols" \
		kpeek peek nr_threads
	# jiffies_64 (EXPORT_SYMBOL, which the export table's look-up refuses) resolves: kpeek.ko
	# links to it.
	j0=$(timer_jiffies)
	jout=$(kpeek peek --via kpeek --json --as u64 jiffies_64 2>&1)
	j1=$(timer_jiffies)
	j=$(jv "$jout")
	# timer_list prints jiffies, an unsigned long: on a 32-bit kernel jiffies_64's low 32 bits
	# (they wrap 5 minutes after boot: INITIAL_JIFFIES).
	[ -n "$j" ] && [ "$(uname -m)" != x86_64 ] && j=$((j & 0xffffffff))
	check "kpeek: jiffies_64 ($j as an unsigned long) between two /proc/timer_list reads ($j0, $j1)" \
		test -n "$j" -a "$j0" -le "${j:-0}" -a "${j:-0}" -le "$j1"
	check_eq "kpeek: jiffies_64 located by the kernel's look-up (kpeek.ko)" "$(jf "$jout" located)" kernel
	if [ ! -e /sys/kernel/btf/vmlinux ]; then
		# Untyped without BTF: raw bytes, as many as sizeof(unsigned long) (kpeek.ko's size).
		word=$(($(awk '{ print length($1); exit }' /proc/kallsyms) / 2))
		check_eq "kpeek: jiffies (no BTF): raw[sizeof(unsigned long)]" \
			"$(jf "$(kpeek peek --via kpeek --json jiffies 2>/dev/null)" type)" "raw[$word]"
	fi
	# A module's variables: located through its .ko and /sys/module sections (82, 83 check more).
	r0=$(peekv --via kpeek plain_counter:reads)
	for i in 1 2 3 4 5 6 7; do dd if=/dev/plain_counter of=/dev/null bs=1 count=1 2>/dev/null; done
	check_eq "kpeek: plain_counter:reads after 7 reads (through the .ko's sections)" \
		"$(peekv --via kpeek plain_counter:reads)" $((r0 + 7))
	out=$(kpeek peek --via kpeek --json init_uts_ns 2>&1)
	check_eq "kpeek: init_uts_ns (exported) at the address kpeek.ko's ioctl gives" \
		"$(jf "$out" addr | sed 's/^0x0*//')" \
		"$(peektest ioctl init_uts_ns 0 0 0 | sed -n 's/^addr=0x0*\([0-9a-f]*\) .*/\1/p')"
	saddr=$(awk '$3 == "schedule" && NF == 3 { print $1; exit }' /proc/kallsyms)
	for v in kpeek $kcore; do
		out=$(kpeek peek --via $v --json schedule 2>&1)
		check_eq "$v: schedule (a function) at its /proc/kallsyms address" \
			"$(jf "$out" addr | sed 's/^0x0*//')" "$(echo "$saddr" | sed 's/^0*//')"
		expect_code "$v: an address that faults" 2 "cannot read 8 byte(s) at 0x10" \
			kpeek peek --via $v 0x10 --as u64
	done
	expect_code "user: kpeek.ko refused" 2 "via kpeek: permission denied" as_user kpeek peek --via kpeek schedule
	[ $nfail = 0 ]
	exit
fi

vias=""
for v in kpeek bpf kcore; do
	if out=$(kpeek peek --via $v --json init_task.comm 2>&1); then vias="$vias $v"; else
		fail "--via $v opens here" "$out"; fi
done
check_eq "auto picks kpeek.ko first" "$(jf "$(kpeek peek --json init_task.comm)" via)" kpeek
ncpu=$(grep -c '^processor' /proc/cpuinfo)
cpus=$(seq -s, 0 $((ncpu - 1)))

for v in $vias; do
	j0=$(timer_jiffies)
	j=$(peekv --via $v jiffies)
	j1=$(timer_jiffies)
	check "$v: jiffies ($j) between two /proc/timer_list reads ($j0, $j1)" \
		test -n "$j" -a "$j0" -le "${j:-0}" -a "${j:-0}" -le "$j1"
	check_eq "$v: init_task.comm" "$(peekv --via $v init_task.comm)" "swapper/0"
	check_eq "$v: init_uts_ns.name.release = uname -r" "$(peekv --via $v init_uts_ns.name.release)" "$(uname -r)"
	# kpeek and awk each run as the one child of this shell (no command substitution), so both
	# see the same number of threads.
	ok=0
	for try in 1 2 3 4 5; do
		awk '{ split($4, t, "/"); print t[2] }' /proc/loadavg >/tmp/la.txt
		kpeek peek --via $v --json nr_threads >/tmp/nt.txt
		awk '{ split($4, t, "/"); print t[2] }' /proc/loadavg >/tmp/lb.txt
		a=$(cat /tmp/la.txt) n=$(jv "$(cat /tmp/nt.txt)") b=$(cat /tmp/lb.txt)
		[ "$a" = "$n" ] && [ "$n" = "$b" ] && { ok=1; break; }
	done
	check_eq "$v: nr_threads = /proc/loadavg total (a quiet moment in 5 tries)" "$ok:$n" "1:$b"

	r0=$(peekv --via $v plain_counter:reads)
	w0=$(peekv --via $v plain_counter:writes)
	for i in 1 2 3 4 5 6 7; do dd if=/dev/plain_counter of=/dev/null bs=1 count=1 2>/dev/null; done
	for i in 1 2 3; do echo x >/dev/plain_counter; done
	check_eq "$v: plain_counter:reads after 7 reads" "$(peekv --via $v plain_counter:reads)" $((r0 + 7))
	check_eq "$v: plain_counter:writes after 3 writes" "$(peekv --via $v plain_counter:writes)" $((w0 + 3))
	tf=$(jf "$(kpeek peek --via $v --json plain_counter:reads)" type_from)
	check_eq "$v: plain_counter:reads typed from the .ko's DWARF (via modules.dep)" "$tf" "DWARF of plain_counter.ko"

	for c in $(seq 0 $((ncpu - 1))); do
		check_eq "$v: runqueues@cpu$c.cpu" "$(peekv --via $v runqueues@cpu$c.cpu)" "$c"
	done
	all=$(kpeek peek --via $v --json runqueues@all.cpu | sed -n 's/.*"value":\[\([^]]*\)\].*/\1/p')
	check_eq "$v: runqueues@all.cpu" "$all" "$cpus"
	c0=$(ctxt)
	s=$(peekv --via $v runqueues@sum.nr_switches)
	c1=$(ctxt)
	check "$v: runqueues@sum.nr_switches ($s) between two ctxt reads ($c0, $c1)" \
		test -n "$s" -a "$c0" -le "${s:-0}" -a "${s:-0}" -le "$c1"
done

# The backends agree (values that do not move), and so do the two ways of finding per-CPU areas.
ref=""
for v in $vias; do
	got=$(kpeek peek --via $v init_uts_ns.name.sysname init_task.pid init_task.comm 'runqueues@all.cpu' \
		init_uts_ns.name.machine 2>&1)
	[ -z "$ref" ] && { ref=$got; refv=$v; continue; }
	check_eq "$v agrees with $refv" "$got" "$ref"
done
for v in $vias; do
	a=$(jf "$(kpeek peek --via $v --json --percpu-method offsets runqueues@cpu0.nr_running)" addr)
	if [ $v = bpf ] && [ "$(uname -r | cut -d. -f1)" -ge 7 ]; then
		# 7.x allocates each task group's cfs_rq per CPU: task_group.cfs_rq is a per-CPU
		# pointer, which the run-queue way cannot follow (it is how per-CPU areas are found).
		echo "NOTE: $(uname -r): task_group.cfs_rq is a per-CPU pointer: per-CPU areas come from __per_cpu_offset only"
		expect_code "bpf: --percpu-method runqueues refused on a per-CPU cfs_rq" 2 \
			"task_group.cfs_rq is a per-CPU pointer" kpeek peek --via bpf --percpu-method runqueues runqueues@cpu0.nr_running
	elif [ $v = bpf ]; then
		b=$(jf "$(kpeek peek --via $v --json --percpu-method runqueues runqueues@cpu0.nr_running)" addr)
		check_eq "bpf: per-CPU area from __per_cpu_offset = from the run queue" "$a" "$b"
	fi
	check "$v: runqueues@cpu0 address ($a) found" test -n "$a"
done

# Text output: debugger style.
kpeek peek init_uts_ns.name --depth 1 >/tmp/peek.txt 2>&1
check "text: a struct, indented, strings quoted" grep -qx "  release = \"$(uname -r)\"," /tmp/peek.txt
kpeek peek init_task.real_parent >/tmp/peek.txt 2>&1
check "text: a pointer in hex with its symbol" grep -qx 'init_task.real_parent = 0xffff[0-9a-f]* <init_task>' /tmp/peek.txt

# Bad input: exit 2, a message naming what was wrong, never a panic.
expect_code "unknown symbol, with close names" 2 "close names: init_task" kpeek peek init_tsk
expect_code "a name in several modules" 2 "ask for one as MODULE:__this_module" kpeek peek __this_module
expect_code "a field the type lacks" 2 "struct task_struct has no field \`nosuch\`" kpeek peek init_task.nosuch
expect_code "an index past the bound" 2 "index past the end of char[16]" kpeek peek 'init_task.comm[16]'
expect_code "NULL in a chain" 2 "NULL at init_task.mm" kpeek peek 'init_task.mm->mmap_base'
expect_code "an unknown type" 2 "unknown type \`struct nope\`" kpeek peek init_task --as 'struct nope'
for v in $vias; do
	expect_code "$v: an address that faults" 2 "cannot read 8 byte(s) at 0x10" kpeek peek --via $v 0x10 --as u64
done
expect_code "a bad expression" 2 "bad expression" kpeek peek 'init_task..comm'
expect_code "a per-CPU variable without a CPU" 2 "say which copy" kpeek peek runqueues.cpu
expect_code "a CPU that does not exist" 2 "no CPU 4096" kpeek peek 'runqueues@cpu4096.cpu'
raw=$(awk '$4 == "[configfs]" && $2 ~ /^[bBdD]$/ && $3 !~ /\./ { print $3; exit }' /proc/kallsyms)
if [ -n "$raw" ]; then
	kpeek peek --json "configfs:$raw" >/tmp/peek.txt 2>&1
	check "configfs:$raw (a module without DWARF here): raw bytes" grep -q '"type":"raw\[' /tmp/peek.txt
	check "configfs:$raw: says there is no type information" grep -q 'no type information' /tmp/peek.txt
else
	fail "a data symbol of configfs" "none in /proc/kallsyms"
fi

# A non-root user: refused by each backend, saying what is missing; kallsyms hides addresses.
expect_code "user: kpeek.ko refused" 2 "via kpeek: permission denied" as_user kpeek peek --via kpeek init_task.comm
expect_code "user: bpf refused" 2 "via bpf: permission denied" as_user kpeek peek --via bpf init_task.comm
expect_code "user: kcore refused" 2 "via kcore: permission denied" as_user kpeek peek --via kcore init_task.comm
expect_code "user: auto finds no backend" 2 "no backend can read kernel memory here" as_user kpeek peek init_task.comm

# --watch: readings per second per backend (TCG: figures of the emulator, not of hardware).
cs() { sed 's/^\([0-9]*\)\.\([0-9][0-9]\).*/\1\2/' /proc/uptime; } # centiseconds since boot
for v in $vias; do
	n=2000
	s=$(cs)
	kpeek peek --via $v plain_counter:reads --watch 1us --count $n >/tmp/watch.txt
	e=$(cs)
	lines=$(wc -l </tmp/watch.txt)
	check_eq "$v: --watch --count $n printed $n readings" "$lines" "$n"
	d=$((e - s))
	[ $d -gt 0 ] || d=1
	echo "INFO: --via $v --watch: $n readings in $((d * 10)) ms = $((n * 100 / d)) /s"
done
[ $nfail = 0 ]

# 82-peek-names: symbols whose names hold a dot, written quoted ("opens.0"), and a module's
# per-CPU variables (plain_counter:calls@cpuN/@all/@sum), through every backend the guest kernel
# offers, against exact counts: plain_counter's function-static `opens` (kallsyms: opens.N)
# counts open()s, its per-CPU `calls` counts reads and writes on the CPU that ran them (pinned
# with taskset), so calls@sum = reads + writes exactly. A dotted symbol of the kernel itself
# (a function's static variable, untyped: raw bytes) reads at its kallsyms address, the same
# through every backend; and located through the .ko and /sys/module sections, at kallsyms'
# addresses. Without CONFIG_KALLSYMS_ALL (no data symbols in kallsyms) the sections way is the
# only one: the values it reads are checked there.
. /kpeek/guest/lib.sh

nfail=0
fail() {
	nfail=$((nfail + 1))
	echo "FAIL: $1: $2"
}
command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing"; exit 1; }
loaded plain_counter || insmod $KO/plain_counter.ko

jv() { echo "$1" | sed -n 's/.*"value":"\{0,1\}\([^",}]*\)"\{0,1\}[,}].*/\1/p'; }
jf() { echo "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }
peekv() { jv "$(kpeek peek --json "$@" 2>&1)"; }
# has NAME TEXT PATTERN: TEXT matches the grep -E PATTERN
has() { if echo "$2" | grep -qE -- "$3"; then pass "$1"; else fail "$1" "'$2' lacks '$3'"; fi; }
ncpu=$(grep -c '^processor' /proc/cpuinfo)

expect_code() { # NAME CODE TEXT CMD...: CMD exits CODE, stderr contains TEXT
	name=$1 code=$2 text=$3
	shift 3
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$code" ] && echo "$err" | grep -qF -- "$text"; then pass "$name"; else
		fail "$name" "'$*' exited $rc with '$(echo "$err" | tail -1)', want $code and '$text'"; fi
}

# percpu_calls VIA: a module's per-CPU variable, calls, bumped on the CPU that runs each read or
# write: calls@sum = reads + writes, calls@cpuN grows by what ran on CPU N, @all adds up to @sum.
percpu_calls() {
	v=$1
	for i in 1 2 3; do taskset -c 0 dd if=/dev/plain_counter of=/dev/null bs=1 count=1 2>/dev/null; done
	r=$(peekv --via $v plain_counter:reads)
	w=$(peekv --via $v plain_counter:writes)
	s=$(peekv --via $v plain_counter:calls@sum)
	check_eq "$v: plain_counter:calls@sum = reads + writes ($r + $w)" "$s" "$((r + w))"
	last=$((ncpu - 1))
	c0=$(peekv --via $v plain_counter:calls@cpu$last)
	for i in 1 2 3 4 5; do taskset -c $last dd if=/dev/plain_counter of=/dev/null bs=1 count=1 2>/dev/null; done
	taskset -c $last sh -c 'echo x >/dev/plain_counter'
	check_eq "$v: plain_counter:calls@cpu$last after 5 reads and 1 write there" \
		"$(peekv --via $v plain_counter:calls@cpu$last)" "$((c0 + 6))"
	all=$(kpeek peek --via $v --json plain_counter:calls@all | sed -n 's/.*"value":\[\([^]]*\)\].*/\1/p')
	total=0
	for x in $(echo "$all" | tr ',' ' '); do total=$((total + x)); done
	check_eq "$v: plain_counter:calls@all has one value per CPU" "$(echo "$all" | tr ',' '\n' | grep -c .)" "$ncpu"
	check_eq "$v: plain_counter:calls@all adds up to @sum" "$total" "$(peekv --via $v plain_counter:calls@sum)"
}

# A kernel without CONFIG_KALLSYMS_ALL (Debian's 686-pae) lists no data symbols in kallsyms,
# neither the kernel's nor a module's. There a module's variables are located through its .ko
# (section and offset of the symbol) and /sys/module/plain_counter/sections (where the section
# was loaded), after checking the .ko's build-id against the loaded module's: checked there,
# the values after a known workload ("opens.0", reads, writes) and how they were located. The
# module's per-CPU variables need the per-CPU areas: __per_cpu_offset, not in kallsyms there,
# comes from kpeek.ko, and calls is checked as on the other kernels. The kernel's dotted statics
# stay refused; on a 32-bit kernel the bpf backend (no BTF) and kcore (ELF32) are refused,
# saying why.
if ! awk '$3 == "init_task" && NF == 3 { f = 1 } END { exit !f }' /proc/kallsyms; then
	echo "NOTE: no data symbols in /proc/kallsyms (CONFIG_KALLSYMS_ALL off): module variables are located through the .ko and /sys/module sections here"
	check_eq "no data symbol of plain_counter in /proc/kallsyms" \
		"$(awk '$4 == "[plain_counter]" && $2 ~ /^[dDbB]$/' /proc/kallsyms | wc -l)" 0
	if [ "$(uname -m)" != x86_64 ]; then
		expect_code "bpf: refused on this 32-bit kernel without BTF, saying why (not \"needs 5.5\")" 2 \
			"which has no BTF" kpeek peek --via bpf plain_counter:reads
		has "bpf: the refusal is not \"needs Linux 5.5\" on $(uname -r)" \
			"$(kpeek peek --via bpf plain_counter:reads 2>&1 | grep -c 'needs Linux 5.5')" '^0$'
		expect_code "kcore: a 32-bit kernel's /proc/kcore refused, saying why" 2 \
			"not a 64-bit little-endian ELF file" kpeek peek --via kcore plain_counter:reads
	fi
	# The compiler numbers a function's static (opens.N): the .ko's symbol table names it, and
	# kpeek's close names for opens.0 say which N (no objdump in the guest).
	opens=opens.0
	err=$(kpeek peek 'plain_counter:"opens.0"' 2>&1 >/dev/null) ||
		opens=$(echo "$err" | sed -n 's/.*close names: \(opens\.[0-9]*\).*/\1/p')
	check "plain_counter's static opens in its .ko as ${opens:-?}" test -n "$opens"
	e="plain_counter:\"$opens\""
	o0=$(peekv --via kpeek "$e")
	for i in 1 2 3 4; do cat /dev/plain_counter; done
	check_eq "kpeek: $e after 4 opens" "$(peekv --via kpeek "$e")" "$((o0 + 4))"
	j=$(kpeek peek --via kpeek --json "$e" 2>&1)
	check_eq "\"$opens\" located through the sections" "$(jf "$j" located)" sections
	check_eq "\"$opens\" typed from the .ko's DWARF" "$(jf "$j" type_from)" "DWARF of plain_counter.ko"
	check_eq "\"$opens\" is a u64" "$(jf "$j" type)" "u64"
	r0=$(peekv --via kpeek plain_counter:reads)
	w0=$(peekv --via kpeek plain_counter:writes)
	for i in 1 2 3 4 5; do dd if=/dev/plain_counter of=/dev/null bs=1 count=1 2>/dev/null; done
	for i in 1 2; do echo x >/dev/plain_counter; done
	check_eq "kpeek: plain_counter:reads after 5 reads" "$(peekv --via kpeek plain_counter:reads)" "$((r0 + 5))"
	check_eq "kpeek: plain_counter:writes after 2 writes" "$(peekv --via kpeek plain_counter:writes)" "$((w0 + 2))"
	# The address is the .bss section's plus the symbol's offset (within the section's page
	# range; the .ko's build-id was checked: -v says so).
	bss=$(cat /sys/module/plain_counter/sections/.bss)
	a=$(jf "$(kpeek peek --json plain_counter:reads)" addr)
	check "plain_counter:reads ($a) lies in .bss ($bss) " \
		test $((a - bss)) -ge 0 -a $((a - bss)) -lt 4096
	has "-v: located through the sections, build-id checked" \
		"$(kpeek peek -v plain_counter:reads 2>&1 >/dev/null)" \
		'located by sections: plain_counter\.ko \(build-id checked\): \.bss\+0x[0-9a-f]+'
	expect_code "--locate kallsyms: refused, saying why" 2 "cannot be located by name here" \
		kpeek peek --locate kallsyms plain_counter:reads
	# The per-CPU areas: __per_cpu_offset (4-byte entries on a 32-bit kernel), which kallsyms
	# lacks here, from kpeek.ko (which links to it); calls itself through __this_module.percpu.
	percpu_calls kpeek
	j=$(kpeek peek --via kpeek --json plain_counter:calls@cpu0 2>&1)
	check_eq "plain_counter:calls@cpu0 located through the sections" "$(jf "$j" located)" sections
	has "a module's per-CPU variable without a CPU: say which copy" \
		"$(kpeek peek plain_counter:calls 2>&1)" 'say which copy: calls@cpu0'
	expect_code "kernel \"__already_done.0\": no kernel data symbols, the reason" 2 \
		"lists no kernel data symbols" kpeek peek --via kpeek '"__already_done.0"'
	has "unquoted, the dot starts a field: an error" "$(kpeek peek "plain_counter:opens.0" 2>&1)" \
		'bad expression .* column [0-9]+: expected a field name'
	has "an unclosed quote: an error naming the column" "$(kpeek peek '"opens.0' 2>&1)" \
		'column 1: a quoted name has no closing'
	has "a CPU selector on a module's plain variable is refused" \
		"$(kpeek peek plain_counter:reads@cpu0 2>&1)" 'applies only to per-CPU variables'
	[ $nfail = 0 ]
	exit
fi

vias=""
for v in kpeek bpf kcore; do
	if out=$(kpeek peek --via $v --json init_task.comm 2>&1); then vias="$vias $v"; else
		fail "--via $v opens here" "$out"; fi
done

# A function's static variable: the symbol table calls it opens.N.
opens=$(awk '$4 == "[plain_counter]" && $3 ~ /^opens\./ { print $3; exit }' /proc/kallsyms)
if [ -z "$opens" ]; then
	fail "plain_counter's static opens in /proc/kallsyms" "no opens.N symbol"
else
	pass "plain_counter's static opens in /proc/kallsyms as $opens"
	for v in $vias; do
		o0=$(peekv --via $v "plain_counter:\"$opens\"")
		for i in 1 2 3 4; do cat /dev/plain_counter; done
		check_eq "$v: plain_counter:\"$opens\" after 4 opens" \
			"$(peekv --via $v "plain_counter:\"$opens\"")" "$((o0 + 4))"
		j=$(kpeek peek --via $v --json "plain_counter:\"$opens\"")
		check_eq "$v: \"$opens\" typed from the .ko's DWARF" "$(jf "$j" type_from)" "DWARF of plain_counter.ko"
		check_eq "$v: \"$opens\" is a u64" "$(jf "$j" type)" "u64"
		check_eq "$v: \"$opens\" at its kallsyms address" "$(jf "$j" addr)" \
			"0x$(awk -v s="$opens" '$3 == s && $4 == "[plain_counter]" { print $1; exit }' /proc/kallsyms)"
	done
fi
has "unquoted, the dot starts a field: an error" "$(kpeek peek "plain_counter:${opens:-opens.0}" 2>&1)" \
	'bad expression .* column [0-9]+: expected a field name'
has "an unclosed quote: an error naming the column" "$(kpeek peek '"opens.0' 2>&1)" \
	'column 1: a quoted name has no closing'

# A dotted data symbol of the kernel (a function's static variable, e.g. __already_done.N) that
# kallsyms lists once; and one it lists many times (__func__.0: one per file), which is ambiguous.
kdot=$(awk '$3 ~ /^[A-Za-z_][A-Za-z0-9_]*\.[0-9]+$/ { n[$3]++; if (NF == 3 && $2 ~ /^[dDbB]$/) a[$3] = $1 }
	END { for (s in a) if (n[s] == 1) { print a[s], s; exit } }' /proc/kallsyms)
many=$(awk 'NF == 3 && $3 ~ /^[A-Za-z_][A-Za-z0-9_]*\.[0-9]+$/ { n[$3]++ }
	END { for (s in n) if (n[s] > 1) { print s; exit } }' /proc/kallsyms)
if [ -n "$many" ]; then
	has "kernel \"$many\" (listed $(grep -c " $many\$" /proc/kallsyms) times): ambiguous, the places listed" \
		"$(kpeek peek "\"$many\"" 2>&1)" "\`$many\` is defined in several places: 0x"
fi
if [ -z "$kdot" ]; then
	fail "a dotted kernel data symbol listed once in /proc/kallsyms" "none"
else
	ka=${kdot% *} kn=${kdot#* }
	ref=""
	for v in $vias; do
		j=$(kpeek peek --via $v --json "\"$kn\"" 2>&1)
		check_eq "$v: kernel \"$kn\" at its kallsyms address" "$(jf "$j" addr)" "0x$ka"
		val=$(echo "$j" | sed -n 's/.*"value":\(\[[^]]*\]\).*/\1/p')
		check "$v: kernel \"$kn\" reads as raw bytes (no type information)" test -n "$val"
		[ -z "$ref" ] && { ref=$val; refv=$v; continue; }
		check_eq "$v: kernel \"$kn\" = what $refv read" "$val" "$ref"
	done
fi

for v in $vias; do
	percpu_calls $v
done
# An oracle for the way kernels without CONFIG_KALLSYMS_ALL locate a module's variables: here
# kallsyms lists them, and the .ko's symbol table with /sys/module/plain_counter/sections (and,
# for a per-CPU variable, __this_module.percpu) must give the same addresses and values.
last=$((ncpu - 1))
for e in reads writes "\"${opens:-opens.0}\"" calls@cpu0 calls@cpu$last; do
	k=$(kpeek peek --json --locate kallsyms "plain_counter:$e" 2>&1)
	s=$(kpeek peek --json --locate sections "plain_counter:$e" 2>&1)
	check_eq "plain_counter:$e: located by kallsyms, then by the sections" \
		"$(jf "$k" located) $(jf "$s" located)" "kallsyms sections"
	check_eq "plain_counter:$e: the sections give kallsyms' address" "$(jf "$s" addr)" "$(jf "$k" addr)"
	check_eq "plain_counter:$e: and the same value" "$(jv "$s")" "$(jv "$k")"
done
check_eq "auto: kallsyms where it lists the symbol" "$(jf "$(kpeek peek --json plain_counter:reads)" located)" kallsyms
has "a module's per-CPU variable without a CPU: say which copy" \
	"$(kpeek peek plain_counter:calls 2>&1)" 'say which copy: calls@cpu0'
has "a CPU selector on a module's plain variable is refused" \
	"$(kpeek peek plain_counter:reads@cpu0 2>&1)" 'applies only to per-CPU variables'
has "a CPU that does not exist" "$(kpeek peek plain_counter:calls@cpu4096 2>&1)" 'no CPU 4096'
[ $nfail = 0 ]

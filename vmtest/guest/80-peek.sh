# 80-peek: KPEEK_IOC_PEEK and KPEEK_CMD_PEEK (peektest, a C client of the uapi header): a known
# symbol's bytes and address, plain_counter's statics by "module:sym" after a known workload,
# the errnos (ENOENT unknown names, EFAULT for NULL, user, guard-page, device and overflowing
# addresses, EINVAL for bad flags/lengths, EPERM without CAP_SYS_RAWIO) -- and never an oops
# (suite.sh fails the test on any kernel complaint in dmesg).
. /kpeek/guest/lib.sh

CAP_NET_ADMIN=12
CAP_SYS_RAWIO=17
CAP_SYS_ADMIN=21

# hex TEXT: TEXT as lowercase hex, as peektest prints data
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
# le64hex HEX16: a little-endian u64 in hex -> big-endian hex
le64hex() { echo "$1" | sed 's/\(..\)/\1 /g' | awk '{for (i = NF; i > 0; i--) printf "%s", $i}'; }
# le64 HEX16: a little-endian u64 in hex -> decimal (small values only: sh arithmetic is signed)
le64() { echo $((0x$(le64hex "$1"))); }
field() { echo "$1" | sed -n "s/.*$2=\([^ ]*\).*/\1/p"; }
ksym() { awk -v s="$1" '$3 == s && NF == 3 { print $1; exit }' /proc/kallsyms; }
ksym_mod() { awk -v s="$1" -v m="[$2]" '$3 == s && $4 == m { print $1; exit }' /proc/kallsyms; }

loaded plain_counter || insmod $KO/plain_counter.ko
banner="Linux version $(uname -r)"
blen=${#banner}
kaddr=$(ksym linux_banner)

# A kernel without CONFIG_KALLSYMS_ALL (Debian's 686-pae) has text symbols only in kallsyms:
# no data symbol can be found by name there, which is then what is tested (ENOENT), and the
# name lookup and reads are checked on a function instead; exported variables resolve through
# the export table (GPL-only ones) and the few kpeek.ko links to (jiffies, __per_cpu_offset).
data_syms=yes
if [ -z "$kaddr" ]; then
	data_syms=no
	echo "NOTE: no data symbols in /proc/kallsyms (CONFIG_KALLSYMS_ALL off): peek by name reads functions only here"
	taddr=$(ksym schedule)
	# The kernel's unsigned long: 4 bytes where kallsyms prints 8 hex digits (a 32-bit kernel).
	word=$(($(awk '{ print length($1); exit }' /proc/kallsyms) / 2))
	ncpu=$(grep -c '^processor' /proc/cpuinfo)
	for via in ioctl nl; do
		check_eq "$via: linux_banner (data) cannot be found by name" \
			"$(peektest $via linux_banner 0 0 $blen)" "error ENOENT"
		# init_uts_ns is a GPL-only export: kpeek.ko finds it in the export table.
		rel=$(uname -r)
		check_eq "$via: init_uts_ns (exported): name.sysname, name.release" \
			"$(field "$(peektest $via init_uts_ns 0 0 5)" data) $(field "$(peektest $via init_uts_ns 0 130 ${#rel})" data)" \
			"$(hex Linux) $(hex "$rel")"
		# Exported variables kpeek.ko links to itself (EXPORT_SYMBOL: __symbol_get() refuses
		# them): they resolve, sized by sizeof; jiffies_64 lies between two /proc/timer_list reads.
		check_eq "$via: jiffies (linked by kpeek.ko): sizeof(unsigned long)" \
			"$(field "$(peektest $via jiffies 0 0 0)" size)" "$word"
		j0=$(awk '/^jiffies:/ { print $2; exit }' /proc/timer_list)
		jout=$(peektest $via jiffies_64 0 0 8)
		j1=$(awk '/^jiffies:/ { print $2; exit }' /proc/timer_list)
		j=$(le64 "$(field "$jout" data)")
		# timer_list prints jiffies, an unsigned long: jiffies_64's low 32 bits on this
		# kernel (they wrap 5 minutes after boot: INITIAL_JIFFIES).
		[ "$word" = 4 ] && j=$((j & 0xffffffff))
		check "$via: jiffies_64 ($j as an unsigned long, size $(field "$jout" size)) between /proc/timer_list's $j0 and $j1" \
			test "$(field "$jout" size)" = 8 -a "$j0" -le "$j" -a "$j" -le "$j1"
		pout=$(peektest $via __per_cpu_offset 0 0 $((ncpu * word)))
		psize=$(field "$pout" size)
		check "$via: __per_cpu_offset (linked): $psize bytes, $word per CPU, at least $ncpu CPUs" \
			test "${psize:-0}" -ge $((ncpu * word)) -a $((${psize:-1} % word)) = 0
		pdata=$(field "$pout" data)
		check "$via: __per_cpu_offset: CPU 0's and CPU 1's entries differ ($pdata)" \
			test "$ncpu" -lt 2 -o "$(echo "$pdata" | cut -c1-$((2 * word)))" != \
			"$(echo "$pdata" | cut -c$((2 * word + 1))-$((4 * word)))"
		sout=$(peektest $via schedule 0 0 16)
		sdata=$(field "$sout" data)
		check_eq "$via: schedule address = /proc/kallsyms" "$(field "$sout" addr)" "0x$taddr"
		size=$(field "$sout" size)
		check "$via: schedule size ($size) > 16" test "${size:-0}" -gt 16
		check_eq "$via: by name and by address, the same bytes" \
			"$(field "$(peektest $via - 0x$taddr 0 16)" data)" "$sdata"
		check_eq "$via: offset 8 = bytes 8.. of the whole" \
			"$(field "$(peektest $via schedule 0 8 8)" data)" "$(echo "$sdata" | cut -c17-32)"
	done
fi
for via in ioctl nl; do
	[ $data_syms = yes ] || break
	out=$(peektest $via linux_banner 0 0 $blen)
	check_eq "$via: linux_banner bytes = 'Linux version <uname -r>'" "$(field "$out" data)" \
		"$(hex "$banner")"
	check_eq "$via: linux_banner address = /proc/kallsyms" "$(field "$out" addr)" "0x$kaddr"
	size=$(field "$out" size)
	check "$via: linux_banner size ($size) holds the banner" test "${size:-0}" -gt $blen
	out=$(peektest $via linux_banner 0 10 6)
	check_eq "$via: offset 10 reads 'ion <major>.'" "$(field "$out" data)" "$(hex "ion $(uname -r | cut -c1-2)")"
	out=$(peektest $via linux_banner 0 0 0)
	check_eq "$via: len 0 resolves only" "$(field "$out" addr) $(field "$out" data)" "0x$kaddr "
	out=$(peektest $via linux_banner 0x$kaddr 0 5)
	check_eq "$via: name + its kallsyms address" "$(field "$out" data)" "$(hex "Linux")"
	out=$(peektest $via - 0x$kaddr 0 5)
	check_eq "$via: address only" "$(field "$out" data)" "$(hex "Linux")"
	[ $via = ioctl ] && max=65536 || max=65531
	check "$via: $max bytes in one call" sh -c "peektest $via linux_banner 0 0 $max | grep -q '^addr='"
done
for via in ioctl nl; do
	check_eq "$via: unknown symbol" "$(peektest $via kpeek_no_such_symbol_x 0 0 8)" "error ENOENT"
	check_eq "$via: module:sym in the wrong module" \
		"$(peektest $via kpeek_example:reads 0 0 8)" "error ENOENT"
	check_eq "$via: unknown module" "$(peektest $via no_such_mod:reads 0 0 8)" "error ENOENT"
	check_eq "$via: ':sym' is no name" "$(peektest $via :jiffies 0 0 8)" "error ENOENT"
	check_eq "$via: NULL" "$(peektest $via - 0 0 8)" "error EFAULT"
	check_eq "$via: a user address" "$(peektest $via - 0x400000 0 8)" "error EFAULT"
	check_eq "$via: address + offset overflows" \
		"$(peektest $via - 0xfffffffffffffff8 0 16)" "error EFAULT"
done
check_eq "ioctl: len > 65536" "$(peektest ioctl linux_banner 0 0 65537)" "error EINVAL"
check_eq "nl: len > 65531 (a u16 attribute length)" "$(peektest nl linux_banner 0 0 65532)" \
	"error ERANGE"
check_eq "ioctl: flags != 0" "$(peektest ioctl linux_banner 0 0 8 1)" "error EINVAL"
long=$(printf '%0130d' 0)
check_eq "ioctl: name without NUL" "$(peektest ioctl $long 0 0 8)" "error EINVAL"
check_eq "nl: name too long" "$(peektest nl $long 0 0 8)" "error EINVAL"

# plain_counter: a module that knows nothing about kpeek
if [ $data_syms = yes ]; then
	r0=$(le64 "$(field "$(peektest ioctl plain_counter:reads 0 0 8)" data)")
	w0=$(le64 "$(field "$(peektest nl plain_counter:writes 0 0 8)" data)")
fi
for i in 1 2 3 4 5; do dd if=/dev/plain_counter of=/dev/null bs=1 count=1 2>/dev/null; done
dd if=/dev/zero of=/dev/plain_counter bs=10 count=3 2>/dev/null
for via in ioctl nl; do
	if [ $data_syms = no ]; then
		check_eq "$via: plain_counter:reads (data) cannot be found by name" \
			"$(peektest $via plain_counter:reads 0 0 8)" "error ENOENT"
		continue
	fi
	out=$(peektest $via plain_counter:reads 0 0 8)
	check_eq "$via: plain_counter:reads after 5 reads" "$(le64 "$(field "$out" data)")" $((r0 + 5))
	check_eq "$via: plain_counter:reads address = /proc/kallsyms" "$(field "$out" addr)" \
		"0x$(ksym_mod reads plain_counter)"
	# 0 where kallsyms gives a module's last data symbol no sane size (before 6.4).
	size=$(field "$out" size)
	check "$via: plain_counter:reads size ($size) >= 8, or 0 for unknown" \
		sh -c "[ '$size' = 0 ] || [ '${size:-0}' -ge 8 ]"
	out=$(peektest $via plain_counter:writes 0 0 8)
	check_eq "$via: plain_counter:writes after 3 writes" "$(le64 "$(field "$out" data)")" $((w0 + 3))
done

# Addresses that must fault, from kpeek_apitest: a vmalloc page, the guard page after it, and
# an ioremap()ed device page.
if insmod $KO/kpeek_apitest.ko; then
	P=/sys/module/kpeek_apitest/parameters
	if [ $data_syms = yes ]; then
		# by name, and the same as the module's read-only parameters say
		vhex=$(field "$(peektest ioctl kpeek_apitest:apitest_vbuf 0 0 8)" data)
		check_eq "apitest_vbuf by name = its parameter" "0x$(le64hex "$vhex")" \
			"$(field "$(peektest ioctl - "$(cat $P/vbuf_addr)" 0 0)" addr)"
	fi
	vhex=$(cat $P/vbuf_addr) iomem=$(cat $P/iomem_addr)
	for via in ioctl nl; do
		check_eq "$via: a vmalloc page reads" "$(field "$(peektest $via - $vhex 4088 8)" data)" \
			a5a5a5a5a5a5a5a5
		check_eq "$via: its guard page faults" "$(peektest $via - $vhex 4096 8)" "error EFAULT"
		check_eq "$via: straddling into the guard page faults" \
			"$(peektest $via - $vhex 4092 8)" "error EFAULT"
		if [ "$iomem" != 0 ]; then
			check_eq "$via: device memory (ioremap) refused" \
				"$(peektest $via - $iomem 0 8)" "error EFAULT"
		else
			fail "$via: device memory" "kpeek_apitest could not ioremap the HPET page"
		fi
	done
	rmmod kpeek_apitest
else
	fail "insmod kpeek_apitest" "cannot test guard pages and device memory"
fi

# Permission: CAP_SYS_RAWIO, on both channels; CAP_SYS_ADMIN or CAP_NET_ADMIN is not enough.
# A fresh kpeek.ko: the refusal is said once per load (an earlier test may have used it up).
unload_all && load_all || fail "reload" "could not reload the modules"
dmesg -c >/dev/null
chmod 0604 /dev/kpeek
for via in ioctl nl; do
	check_eq "$via: no capability" "$(as_user peektest $via linux_banner 0 0 8)" "error EPERM"
	check_eq "$via: CAP_SYS_ADMIN only" \
		"$(runas -c $CAP_SYS_ADMIN $USER_UID peektest $via linux_banner 0 0 8)" "error EPERM"
	check_eq "$via: CAP_NET_ADMIN only" \
		"$(runas -c $CAP_NET_ADMIN $USER_UID peektest $via linux_banner 0 0 8)" "error EPERM"
	if [ $data_syms = yes ]; then
		out=$(runas -c $CAP_SYS_RAWIO $USER_UID peektest $via linux_banner 0 0 5)
		check_eq "$via: CAP_SYS_RAWIO suffices" "$(field "$out" data)" "$(hex Linux)"
	else
		out=$(runas -c $CAP_SYS_RAWIO $USER_UID peektest $via schedule 0 0 0)
		check_eq "$via: CAP_SYS_RAWIO suffices" "$(field "$out" addr)" "0x$taddr"
	fi
done
chmod 0600 /dev/kpeek
check_eq "the refusal is said in dmesg, once" \
	"$(dmesg | grep -c 'kpeek: peek refused: the caller lacks CAP_SYS_RAWIO')" 1

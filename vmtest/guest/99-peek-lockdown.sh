# 99-peek-lockdown: every `kpeek peek` backend refuses under kernel lockdown, with a clear message.
#
# This script switches /sys/kernel/security/lockdown to `confidentiality`, which cannot be undone
# until the next boot: it is numbered 99 so that it runs LAST, after every other guest script.
# Keep it last (no guest script may be numbered above 99).
#
# Checked: before the switch each backend reads; after it, `kpeek peek --via kpeek|bpf|kcore`
# exits 2 with "via BACKEND: refused by kernel lockdown (confidentiality)", `auto` lists all
# three under "no backend can read kernel memory here", and the kernel itself refuses (kpeek.ko's
# peek ioctl answers EPERM to a C client, /proc/kcore cannot be opened): the refusal is not
# only kpeek's own check. Without CONFIG_KALLSYMS_ALL on a 32-bit kernel only kpeek.ko reads
# before the switch (bpf and kcore refuse, checked); every backend still says lockdown after it.
. /kpeek/guest/lib.sh

nfail=0
fail() {
	nfail=$((nfail + 1))
	echo "FAIL: $1: $2"
}
command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing"; exit 1; }
LD=/sys/kernel/security/lockdown
[ -e $LD ] || mount -t securityfs securityfs /sys/kernel/security
if [ ! -e $LD ]; then
	fail "$LD present" "this kernel has no lockdown LSM (CONFIG_SECURITY_LOCKDOWN_LSM): not run"
	exit 1
fi
check "lockdown is off before the switch" grep -q '\[none\]' $LD

# Without CONFIG_KALLSYMS_ALL (Debian's 686-pae) init_task cannot be located: the exported
# init_uts_ns (as a u64: no BTF) is read there instead (through kpeek.ko). On a 32-bit kernel bpf (no BTF) and
# kcore (ELF32) cannot read even before lockdown: their refusal is checked instead.
sym=init_task.comm
if ! awk '$3 == "init_task" && NF == 3 { f = 1 } END { exit !f }' /proc/kallsyms; then
	echo "NOTE: no data symbols in /proc/kallsyms (CONFIG_KALLSYMS_ALL off): init_uts_ns (as a u64) is read instead of init_task.comm"
	sym="init_uts_ns --as u64"
fi
vias=""
for v in kpeek bpf kcore; do
	out=$(kpeek peek --via $v $sym 2>&1)
	rc=$?
	if [ $rc = 0 ]; then
		vias="$vias $v"
		pass "$v reads before lockdown"
		continue
	fi
	text=""
	if [ "$(uname -m)" != x86_64 ]; then
		case $v in
		bpf) text="which has no BTF" ;;
		kcore) text="not a 64-bit little-endian ELF file" ;;
		esac
	fi
	if [ -n "$text" ] && [ $rc = 2 ] && echo "$out" | grep -qF -- "$text"; then
		pass "$v refused before lockdown on this 32-bit kernel (exit 2, '$text')"
	else
		fail "--via $v reads before lockdown" "exit $rc: $out"
	fi
done

echo confidentiality >$LD
check "lockdown is now confidentiality" grep -q '\[confidentiality\]' $LD

for v in $vias; do
	out=$(kpeek peek --via $v $sym 2>&1)
	rc=$?
	check_eq "$v under lockdown: exit 2" "$rc" 2
	check "$v under lockdown: says so ('$out')" \
		sh -c 'echo "$1" | grep -qF "via $2: refused by kernel lockdown (confidentiality)"' _ "$out" "$v"
done
out=$(kpeek peek $sym 2>&1)
check_eq "auto under lockdown: exit 2" "$?" 2
check "auto under lockdown: no backend, each says lockdown" sh -c \
	'echo "$1" | grep -q "no backend can read kernel memory here" && [ "$(echo "$1" | grep -c "refused by kernel lockdown")" = 3 ]' _ "$out"

# The kernel's own refusals, below kpeek's user-space check.
check_eq "kpeek.ko's peek ioctl answers EPERM under lockdown" "$(peektest ioctl linux_banner 0 0 8)" "error EPERM"
check_eq "kpeek.ko's netlink peek answers EPERM under lockdown" "$(peektest nl linux_banner 0 0 8)" "error EPERM"
if dd if=/proc/kcore of=/dev/null bs=64 count=1 2>/dev/null; then
	fail "/proc/kcore refused by the kernel under lockdown" "it opened"
else
	pass "/proc/kcore refused by the kernel under lockdown"
fi
ls /kpeek/extra/* >/dev/null 2>&1 && echo "NOTE: the --guest-script that follows the suite runs under lockdown (confidentiality)"
[ $nfail = 0 ]

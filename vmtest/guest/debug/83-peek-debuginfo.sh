# 83-peek-debuginfo (debug kernel lane only): `kpeek peek` typing the kernel's variables from the
# DWARF of the running kernel's own vmlinux, which vmtest/run puts where Debian's -dbg package
# does (/usr/lib/debug/boot/vmlinux-$(uname -r): the build-id note and the type sections).
# - --debuginfo: init_task.comm, init_uts_ns.name.release, jiffies typed from DWARF (the JSON
#   says so) and equal to their oracles;
# - without --debuginfo: variables of this debug build that kpeek's global variable table does
#   not know (lib/debugobjects.c) typed from the -dbg path: debug_obj_work.work.func points at
#   free_obj_work, debug_objects_warnings and _maxchain match debugfs;
# - an ELF of another build (plain_counter.ko: DWARF, another build-id) refused, naming both
#   build-ids, with exit code 2.
. /kpeek/guest/lib.sh

nfail=0
fail() {
	nfail=$((nfail + 1))
	echo "FAIL: $1: $2"
}
command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }
DI=/usr/lib/debug/boot/vmlinux-$(uname -r)
[ -f "$DI" ] || { fail "debug info at $DI" "missing (vmtest/run puts it there for the debug kernel)"; exit 1; }
loaded plain_counter || insmod $KO/plain_counter.ko

# jv JSON: the "value" of one --json line (numbers and strings without escapes); jf JSON KEY
jv() { echo "$1" | sed -n 's/.*"value":"\{0,1\}\([^",}]*\)"\{0,1\}[,}].*/\1/p'; }
jf() { echo "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }
timer_jiffies() { awk '/^jiffies:/ { print $2; exit }' /proc/timer_list; }
# odebug KEY: a number of debugfs' debug_objects/stats ("max_chain     :38")
odebug() { awk -F: -v k="$1" '{ n = $1; gsub(/[ \t]+/, "", n) } n == k { print $2 + 0; exit }' \
	/sys/kernel/debug/debug_objects/stats; }

# One process (indexing 84 MB of DWARF under TCG takes a while): three expressions.
j0=$(timer_jiffies)
s=$(date +%s)
out=$(kpeek peek --json --debuginfo "$DI" init_task.comm init_uts_ns.name.release jiffies 2>&1)
rc=$?
j1=$(timer_jiffies)
echo "INFO: kpeek peek --debuginfo (84 MB of DWARF indexed): $(($(date +%s) - s)) s"
check_eq "--debuginfo: exit code" "$rc" 0
comm=$(echo "$out" | grep '"expr":"init_task.comm"')
rel=$(echo "$out" | grep '"expr":"init_uts_ns.name.release"')
jif=$(echo "$out" | grep '"expr":"jiffies"')
check_eq "--debuginfo: init_task.comm" "$(jv "$comm")" "swapper/0"
check_eq "--debuginfo: init_uts_ns.name.release = uname -r" "$(jv "$rel")" "$(uname -r)"
j=$(jv "$jif")
check "--debuginfo: jiffies ($j) between two /proc/timer_list reads ($j0, $j1)" \
	test -n "$j" -a "$j0" -le "${j:-0}" -a "${j:-0}" -le "$j1"
for e in "$comm" "$rel" "$jif"; do
	check_eq "--debuginfo: $(jf "$e" expr) typed from DWARF" "$(jf "$e" type_from)" "DWARF of --debuginfo"
done

# Without --debuginfo: the -dbg path, for variables the table does not type.
w0=$(odebug warnings)
m0=$(odebug max_chain)
dbg=$(kpeek peek --json debug_obj_work.work.func debug_objects_warnings debug_objects_maxchain 2>&1)
rc=$?
w1=$(odebug warnings)
m1=$(odebug max_chain)
check_eq "-dbg path: exit code ($dbg)" "$rc" 0
fn=$(echo "$dbg" | grep '"expr":"debug_obj_work.work.func"')
# The DWARF offsets put work.func at `addr`; what is there must be free_obj_work (read again
# typed by --as, which needs no debug info).
a=$(jf "$fn" addr)
check_eq "-dbg path: debug_obj_work.work.func's value read again at $a" \
	"$(jv "$(kpeek peek --json "$a" --as u64 2>&1)")" "$(jv "$fn")"
check "-dbg path: debug_obj_work.work.func points at free_obj_work" \
	sh -c "kpeek peek '$a' --as 'void *' | grep -q ' <free_obj_work>\$'"
check_eq "-dbg path: debug_obj_work typed from $DI" "$(jf "$fn" type_from)" "DWARF of $DI"
w=$(jv "$(echo "$dbg" | grep '"expr":"debug_objects_warnings"')")
m=$(jv "$(echo "$dbg" | grep '"expr":"debug_objects_maxchain"')")
check "-dbg path: debug_objects_warnings ($w) = debugfs warnings ($w0 .. $w1)" \
	test -n "$w" -a "$w0" -le "${w:-0}" -a "${w:-0}" -le "$w1"
check "-dbg path: debug_objects_maxchain ($m) = debugfs max_chain ($m0 .. $m1)" \
	test -n "$m" -a "$m0" -le "${m:-0}" -a "${m:-0}" -le "$m1"

# Another build's debug info: refused before anything is read.
err=$(kpeek peek --debuginfo "$KO/plain_counter.ko" jiffies 2>&1 >/dev/null)
rc=$?
check_eq "another build: exit code ($err)" "$rc" 2
# The running build-id, from the kernel's own notes (not through kpeek): walk the ELF notes
# (namesz, descsz, type, name and desc padded to 4 bytes) to the GNU build-id (type 3); it is
# not always the first note (Xen's come first on some configurations).
running=$(od -An -tx1 -v /sys/kernel/notes | tr -d ' \n' | awk '
function hex(c) { return index("0123456789abcdef", c) - 1 }
function le32(s,   i, v) {
	v = 0
	for (i = 7; i >= 1; i -= 2)
		v = v * 256 + hex(substr(s, i, 1)) * 16 + hex(substr(s, i + 1, 1))
	return v
}
{
	p = 1
	while (p + 24 <= length($0)) {
		nsz = le32(substr($0, p, 8)); dsz = le32(substr($0, p + 8, 8)); t = le32(substr($0, p + 16, 8))
		d = p + 24 + 8 * int((nsz + 3) / 4)
		if (t == 3 && substr($0, p + 24, 2 * nsz) == "474e5500") { print substr($0, d, 2 * dsz); exit }
		p = d + 8 * int((dsz + 3) / 4)
	}
}')
if [ -n "$running" ] && echo "$err" | grep -q "is not the running kernel.s ($running"; then
	pass "another build: refused naming the running build-id ($running) and why"
else
	fail "another build: refused naming the running build-id" "running '$running', said: $err"
fi
[ $nfail = 0 ]

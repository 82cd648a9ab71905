# 83-peek-ko: compressed modules, as distributions install them. plain_counter.ko is swapped for
# its .ko.xz (xz --check=crc32, as kbuild's modules_install compresses), .ko.zst and .ko.gz in
# turn (vmtest/run builds them into /kpeek/ko), with modules.dep naming the compressed file as
# depmod does; the plain .ko is moved away meanwhile, so a type can only come from the
# compressed file. `kpeek peek plain_counter:reads` must still be typed from the module's DWARF
# and exact after a known workload; --module-file takes each compressed file too. modules.dep
# and the plain .ko are put back at the end. Without CONFIG_KALLSYMS_ALL (no module variables in
# kallsyms) the compressed .ko also locates the variable (its symbol table and /sys/module
# sections, its build-id checked against the loaded module's): the same values are checked there.
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

expect_code() { # NAME CODE TEXT CMD...: CMD exits CODE, stderr contains TEXT
	name=$1 code=$2 text=$3
	shift 3
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$code" ] && echo "$err" | grep -qF -- "$text"; then pass "$name"; else
		fail "$name" "'$*' exited $rc with '$(echo "$err" | tail -1)', want $code and '$text'"; fi
}
# Without CONFIG_KALLSYMS_ALL (Debian's 686-pae) kallsyms lists no module variables: there they
# are located through the .ko's sections, elsewhere through kallsyms.
located=kallsyms
if ! awk '$3 == "init_task" && NF == 3 { f = 1 } END { exit !f }' /proc/kallsyms; then
	located=sections
	echo "NOTE: no data symbols in /proc/kallsyms (CONFIG_KALLSYMS_ALL off): plain_counter's variables are located through the .ko's sections here"
fi

dep=/lib/modules/$(uname -r)/modules.dep
cp $dep /tmp/modules.dep.orig
mv $KO/plain_counter.ko /tmp/plain_counter.ko.orig
restore() {
	rm -f $KO/plain_counter.ko.*
	mv /tmp/plain_counter.ko.orig $KO/plain_counter.ko
	cp /tmp/modules.dep.orig $dep
}
trap restore EXIT

for z in xz zst gz; do
	f=/kpeek/ko/plain_counter.ko.$z
	if [ ! -f $f ]; then
		fail "$f present" "vmtest/run did not build it"
		continue
	fi
	rm -f $KO/plain_counter.ko.*
	cp $f $KO/
	sed "s#plain_counter\.ko:#plain_counter.ko.$z:#" /tmp/modules.dep.orig >$dep
	check "modules.dep names plain_counter.ko.$z" grep -q "plain_counter\.ko\.$z:" $dep
	r0=$(jv "$(kpeek peek --json plain_counter:reads)")
	for i in 1 2 3; do dd if=/dev/plain_counter of=/dev/null bs=1 count=1 2>/dev/null; done
	j=$(kpeek peek --json plain_counter:reads 2>&1)
	check_eq ".ko.$z via modules.dep: plain_counter:reads after 3 reads" "$(jv "$j")" "$((r0 + 3))"
	check_eq ".ko.$z via modules.dep: typed from the module's DWARF" "$(jf "$j" type_from)" \
		"DWARF of plain_counter.ko"
	check_eq ".ko.$z via modules.dep: type u64" "$(jf "$j" type)" "u64"
	check_eq ".ko.$z via modules.dep: located by $located" "$(jf "$j" located)" "$located"
	# --module-file, with modules.dep naming no plain_counter at all.
	grep -v plain_counter /tmp/modules.dep.orig >$dep
	w0=$(jv "$(kpeek peek --json --module-file $f plain_counter:writes)")
	for i in 1 2; do echo x >/dev/plain_counter; done
	j=$(kpeek peek --json --module-file $f plain_counter:writes 2>&1)
	check_eq "--module-file plain_counter.ko.$z: plain_counter:writes after 2 writes" "$(jv "$j")" "$((w0 + 2))"
	check_eq "--module-file plain_counter.ko.$z: typed from its DWARF" "$(jf "$j" type_from)" \
		"DWARF of plain_counter.ko"
	check_eq "--module-file plain_counter.ko.$z: located by $located" "$(jf "$j" located)" "$located"
	# Without it and without a modules.dep line: raw bytes where kallsyms locates the variable,
	# refused where only the .ko could; either way saying why.
	j=$(kpeek peek --json plain_counter:writes 2>&1)
	check "without it and without a modules.dep line: no .ko, saying why" \
		sh -c "echo \"\$1\" | grep -q 'modules.dep of the running kernel lists no plain_counter.ko'" _ "$j"
done

# A damaged compressed file: a clear error naming it, not a panic.
head -c 200 /kpeek/ko/plain_counter.ko.xz >/tmp/cut.ko.xz
out=$(kpeek peek --module-file /tmp/cut.ko.xz plain_counter:reads 2>&1)
rc=$?
check_eq "a cut .ko.xz: exit 2" "$rc" 2
check "a cut .ko.xz: the message names the file and says it cannot be decompressed" \
	sh -c "echo \"\$1\" | grep -q '/tmp/cut.ko.xz.*cannot decompress'" _ "$out"
[ $nfail = 0 ]

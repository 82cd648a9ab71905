# 51-mod-cli: group/counter create, set, describe, reset and delete through the CLI land in the
# kernel; bad names and values exit 2 with a message naming the rule; the kernel's errnos on every
# write path (kpeek-guest errnos, client checks off); caps give "too many ...".
. /kpeek/guest/lib.sh

for b in kpeek kpeek-guest; do
	command -v $b >/dev/null || { fail "/bin/$b present" "missing: did the static Rust build fail?"; exit 1; }
done

expect_code() { # NAME CODE TEXT CMD...: CMD exits CODE, stderr contains TEXT
	name=$1 code=$2 text=$3
	shift 3
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$code" ] && echo "$err" | grep -qF -- "$text"; then pass "$name"; else
		fail "$name" "'$*' exited $rc with '$(echo "$err" | tail -1)', want $code and '$text'"; fi
}

check "group create cli51 -d" kpeek mod group create cli51 --description "made by 51"
check_eq "group description in configfs" "$(cat $CFS/groups/cli51/description)" "made by 51"
check "sysfs directory appears" test -d $SYS/cli51
check "counter create cli51/c1 -d" kpeek mod counter create cli51 c1 -d "first counter"
check_eq "counter description in configfs" "$(cat $CFS/groups/cli51/c1/description)" "first counter"
check_eq "new counter is 0 in sysfs" "$(cat $SYS/cli51/c1)" 0
check "counter set 123" kpeek mod counter set cli51 c1 123
check_eq "procfs shows 123" "$(proc_value cli51 c1)" 123
check_eq "configfs value shows 123" "$(cat $CFS/groups/cli51/c1/value)" 123
check "counter describe" kpeek mod counter describe cli51 c1 "renamed meaning"
check_eq "new description" "$(cat $CFS/groups/cli51/c1/description)" "renamed meaning"
check "group describe with empty text" kpeek mod group describe cli51 ""
check_eq "group description cleared" "$(cat $CFS/groups/cli51/description)" ""
check "counter reset cli51 c1 (one counter)" kpeek mod counter reset cli51 c1
check_eq "c1 is 0" "$(cat $SYS/cli51/c1)" 0
kpeek mod counter create cli51 c2 >/dev/null
kpeek mod counter set cli51 c1 5 >/dev/null
kpeek mod counter set cli51 c2 6 >/dev/null
check "group reset cli51 (sysfs)" kpeek mod group reset cli51
check_eq "both counters 0 after group reset" "$(grep '^cli51 ' $PROC | cut -d' ' -f3 | tr '\n' ' ')" "0 0 "
check "counter reset cli51 (no counter: sysfs group reset)" kpeek mod counter reset cli51
check "counter delete cli51/c1" kpeek mod counter delete cli51 c1
check "c1 gone from sysfs" test ! -e $SYS/cli51/c1
check "c1 gone from procfs" sh -c "test -r $PROC && ! grep -q '^cli51 c1 ' $PROC"

long=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
expect_code "group name of 33 bytes" 2 "is 33 bytes, longer than 31 bytes" kpeek mod group create $long
expect_code "group name with '-'" 2 "names may only contain [A-Za-z0-9_]" kpeek mod group create a-b
expect_code "group name info" 2 'group name "info" is reserved' kpeek mod group create info
expect_code "empty group name" 2 "group name is empty" kpeek mod group create ""
expect_code "counter name reset" 2 'counter name "reset" is reserved' kpeek mod counter create cli51 reset
expect_code "counter name of 33 bytes" 2 "longer than 31 bytes" kpeek mod counter create cli51 $long
expect_code "negative value" 2 "invalid value '-1'" kpeek mod counter set cli51 c2 -1
expect_code "value 2^64" 2 "invalid value" kpeek mod counter set cli51 c2 18446744073709551616
expect_code "description of 128 bytes" 2 "longer than 127 bytes" \
	kpeek mod counter describe cli51 c2 "$(printf '%0128d' 0)"
expect_code "group twice (kernel EEXIST)" 2 'group "cli51" already exists' kpeek mod group create cli51
expect_code "counter twice (kernel EEXIST)" 2 "counter cli51/c2 already exists (EEXIST" \
	kpeek mod counter create cli51 c2
expect_code "a module's group name (kernel EEXIST)" 2 "already exists" kpeek mod group create kpeek_example
expect_code "counter in a module's group" 2 'no group "kpeek_example"' \
	kpeek mod counter create kpeek_example x
expect_code "set a module's counter" 2 "configfs shows only groups created through it" \
	kpeek mod counter set kpeek_example writes 1
expect_code "set an absent counter" 2 "no counter cli51/nope" kpeek mod counter set cli51 nope 1
expect_code "reset an absent group" 2 'no group "nope"' kpeek mod group reset nope
expect_code "unknown --via" 2 "invalid value 'carrier_pigeon'" kpeek mod counters --via carrier_pigeon
check "group delete cli51 (with c2)" kpeek mod group delete cli51
check "cli51 gone from configfs" test ! -e $CFS/groups/cli51
check "cli51 gone from sysfs" test ! -e $SYS/cli51
expect_code "delete it again" 2 'no group "cli51"' kpeek mod group delete cli51

# The kernel's own answers on every write path (kpeek-client's checks off).
kpeek-guest errnos 2>&1 | grep -E '^(PASS|FAIL): ' | sed -E 's/^(PASS|FAIL): /&errnos: /'

# Caps: reload kpeek.ko with max_groups=2 max_counters=3.
rmmod kpeek_example && rmmod kpeek || fail "unload for the caps test" "rmmod failed"
if insmod $KO/kpeek.ko max_groups=2 max_counters=3; then
	check "cap: group 1 of 2" kpeek mod group create cap_a
	check "cap: group 2 of 2" kpeek mod group create cap_b
	expect_code "cap: group 3 -> ENOSPC" 2 "too many groups: the max_groups cap is reached (module parameter" \
		kpeek mod group create cap_c
	check "cap: counter 1 of 3" kpeek mod counter create cap_a x
	check "cap: counter 2 of 3" kpeek mod counter create cap_a y
	check "cap: counter 3 of 3" kpeek mod counter create cap_b z
	expect_code "cap: counter 4 -> ENOSPC" 2 "too many counters: the max_counters cap is reached" \
		kpeek mod counter create cap_b w
	check_eq "mod info shows the caps" "$(kpeek mod info | grep -E '^  max_(groups|counters) ' | tr -s ' ' | tr '\n' ' ')" \
		" max_counters 3  max_groups 2 "
	check "cap: delete group cap_a" kpeek mod group delete cap_a
	check "cap: a group fits again" kpeek mod group create cap_c
	for g in cap_b cap_c; do kpeek mod group delete $g >/dev/null; done
	rmmod kpeek || fail "unload after the caps test" "rmmod kpeek failed"
else
	fail "insmod kpeek.ko max_groups=2 max_counters=3" "failed"
fi
load_all || fail "reload the modules with default caps" "failed"

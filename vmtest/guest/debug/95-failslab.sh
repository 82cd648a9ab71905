# 95-failslab (debug kernel lane only): kpeek.ko under allocation failures the way
# fault-injection.rst describes them: failslab and fail_page_alloc with task-filter (only tasks
# marked in /proc/PID/make-it-fail) and the module-text stack filter of fi-lib.sh (only kpeek's
# own allocations).
#
# Loads: a probability with an interval lands in init only by chance (most of init's
# allocations are followed by no further one in the same load, and a failure of about two
# thirds of them is tolerated), so rounds that tested nothing went unnoticed. Each load round
# instead fails exactly one allocation at a known depth: `space` (a budget of bytes the
# attribute lets through before it fails: bytes for failslab, pages for fail_page_alloc),
# probability 100, times 1. The budget of one whole
# init is measured first (space far above it, nothing fails, what is left is read back); round
# r then spends r/(R+1) of it, alternating failslab and fail_page_alloc, so that the failures
# spread over all of init. `times` reads 0 afterwards exactly when the failure happened.
#
# Each load round (a marked task loads kpeek.ko, `faultinj task load`): a failed load is ENOMEM
# and leaves no file and no module; a load that survived its failure works: create/mkdir/open/
# ring/probe calls in marked tasks with probability 25 (clean errnos), clean-up unmarked,
# bookkeeping back to its state after the load, rmmod. At the end: kmemleak finds no leak, no
# splat. The test fails when no failure was injected into a load, when no load failed or none
# succeeded, or when no call failed: a fault-injection test in which nothing was injected
# tested nothing.
. /kpeek/guest/lib.sh
. /kpeek/guest/fi-lib.sh

fi_available || { fail "kernel fault injection" "absent: /proc/self/fail-nth or $FI/failslab missing (this test belongs to the debug kernel lane)"; exit 1; }
fi_setup || { fail "fault injection setup" "writing $FI/failslab and fail_page_alloc failed"; exit 1; }
fi_leaks_start
for a in $FI_ATTRS; do echo Y >$FI/$a/task-filter; done

# fi_set ATTR PROBABILITY INTERVAL TIMES SPACE
fi_set() { echo "$3" >$FI/$1/interval && echo "$4" >$FI/$1/times && echo "$5" >$FI/$1/space &&
	echo "$2" >$FI/$1/probability; }
# (sh has no local variables: the loops here use x, the rounds' attribute is at)
fi_prob() { for x in $FI_ATTRS; do echo "$1" >$FI/$x/probability; done; }

# The bytes one load of kpeek.ko asks each attribute for, with a kpeek frame on the stack.
unload_all
BIG=1000000000
for x in $FI_ATTRS; do fi_set $x 100 1 1 $BIG; done
o=$(faultinj task load $KO/kpeek.ko 2>&1)
fi_prob 0
loaded kpeek || { fail "measure the allocations of kpeek.ko's init" "the load failed: $o"; exit 1; }
rmmod kpeek
total_failslab=$((BIG - $(cat $FI/failslab/space)))
total_fail_page_alloc=$((BIG - $(cat $FI/fail_page_alloc/space)))
echo "95-failslab: one init asks failslab for $total_failslab bytes, fail_page_alloc for $total_fail_page_alloc pages (with a kpeek frame on the stack)"
[ "$total_failslab" -gt 0 ] || { fail "measure the allocations of kpeek.ko's init" "no slab allocation passed the filters (task-filter, stack filter): faultinj said: $o"; exit 1; }

ROUNDS=${ROUNDS:-30}
loads=0 load_fails=0 injected=0 op_fails=0 ops=0 bad=0
# the rounds of each attribute (fail_page_alloc only when init allocates pages through it)
if [ "$total_fail_page_alloc" -gt 0 ]; then per=$(((ROUNDS + 1) / 2)); else per=$ROUNDS; fi
r=1
while [ $r -le $ROUNDS ]; do
	unload_all || { fail "round $r: unload" "rmmod failed"; bad=$((bad + 1)); break; }
	if [ "$total_fail_page_alloc" -gt 0 ] && [ $((r % 2)) = 0 ]; then at=fail_page_alloc j=$((r / 2)); else
		at=failslab j=$(((r + 1) / 2)); [ "$total_fail_page_alloc" -gt 0 ] || j=$r; fi
	eval "total=\$total_$at"
	budget=$((total * j / (per + 1)))
	fi_prob 0
	fi_set $at 100 1 1 $budget
	out=$(faultinj task load $KO/kpeek.ko 2>&1)
	fi_prob 0
	hit=$(cat $FI/$at/times)
	unit=bytes
	[ $at = failslab ] || unit=pages
	echo "95-failslab: round $r: $at fails after $budget of $total $unit: ${out%% injected=*}$([ "$hit" = 0 ] && echo " (failure injected)" || echo " (nothing injected)")"
	[ "$hit" = 0 ] && injected=$((injected + 1))
	for x in $FI_ATTRS; do fi_set $x 0 1 -1 0; done
	res=$(echo "$out" | awk '{ print $2 }')
	if [ "$res" = ok ]; then
		loads=$((loads + 1))
		# the first probe enable makes the kpeek_probes group, which stays: make it first
		faultinj 0 ioctl-probe 2 1 >/dev/null && faultinj 0 ioctl-probe 2 0 >/dev/null
		base=$(fi_state)
		fi_prob 25
		ids=""
		for op in "nl-create frg" "ioctl-create fri" "mkdir $CFS/groups/frc" "open /dev/kpeek" \
			"ioctl-ring 65536" "ioctl-probe 2 1" "nl-probe 1 1"; do
			o=$(faultinj task $op 2>&1)
			ops=$((ops + 1))
			res=$(echo "$o" | awk '{ print $2 }')
			case "$res" in
			ok) ;;
			ENOMEM | ENOBUFS) op_fails=$((op_fails + 1)) ;;
			*) fail "round $r: $op" "$o (want ok, ENOMEM or ENOBUFS)"; bad=$((bad + 1)) ;;
			esac
			ids="$ids $(echo "$o" | sed -n 's/.* id=\([0-9]*\).*/\1/p')"
		done
		fi_prob 0
		# clean-up, nothing injected
		for id in $ids; do nltest destroy $id 1 >/dev/null || { fail "round $r: destroy $id" "failed"; bad=$((bad + 1)); }; done
		[ ! -d $CFS/groups/frc ] || rmdir $CFS/groups/frc
		faultinj 0 ioctl-ring 0 >/dev/null
		faultinj 0 ioctl-probe 2 0 >/dev/null
		faultinj 0 ioctl-probe 1 0 >/dev/null
		now=$(fi_state)
		if [ "$now" != "$base" ]; then
			fail "round $r: state after clean-up" "'$now', was '$base' after the load"
			bad=$((bad + 1))
		fi
		rmmod kpeek_example 2>/dev/null
		rmmod kpeek || { fail "round $r: rmmod" "failed"; bad=$((bad + 1)); }
	else
		load_fails=$((load_fails + 1))
		[ "$res" = ENOMEM ] ||
			{ fail "round $r: failed load errno" "faultinj said: $out (want ENOMEM)"; bad=$((bad + 1)); }
		loaded kpeek && { fail "round $r: failed load" "but kpeek is loaded"; bad=$((bad + 1)); }
		for f in $PROC $SYS $CFS $DBG /sys/module/kpeek /dev/kpeek; do
			[ -e $f ] && { fail "round $r: failed load leaves no file" "$f"; bad=$((bad + 1)); }
		done
	fi
	[ $bad -gt 3 ] && break
	r=$((r + 1))
done
fi_off
echo "95-failslab: $ROUNDS rounds: $injected with a failure injected into init, $load_fails failed loads, $loads loads; $op_fails of $ops calls failed"
[ $bad = 0 ] && pass "$ROUNDS rounds of loads and calls under failslab/fail_page_alloc: clean errnos, nothing left behind"
[ $injected -gt 0 ] || fail "failures injected into init" "none in $ROUNDS rounds (init's budgets: failslab $total_failslab bytes, fail_page_alloc $total_fail_page_alloc pages)"
[ $load_fails -gt 0 ] || fail "a load failed on its injected failure" "none in $ROUNDS rounds ($injected injected)"
[ $loads -gt 0 ] || fail "a load succeeded (its failure tolerated, or none injected)" "none in $ROUNDS rounds"
[ $op_fails -gt 0 ] || fail "failures injected into the calls" "none of $ops"
load_all || fail "load" "failed"
fi_leaks "loads and calls under failslab"
check "module unloads" unload_all
check "and loads again" load_all
fi_dmesg_check "95-failslab"

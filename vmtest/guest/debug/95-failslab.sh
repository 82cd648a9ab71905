# 95-failslab (debug kernel lane only): kpeek.ko under random allocation failures, the way
# fault-injection.rst describes it: failslab and fail_page_alloc with task-filter (only tasks
# marked in /proc/PID/make-it-fail), probability and interval, times=-1, and the module-text stack filter
# of fi-lib.sh (only kpeek's own allocations). Rounds of `modprobe kpeek` in a marked task, then
# (when it loaded) create/mkdir/open/ring/probe calls in marked tasks, clean-up unmarked, and
# rmmod. Every failure is a clean errno, a failed modprobe leaves nothing behind, the
# bookkeeping returns to its state after the load, kmemleak finds no leak, no splat.
. /kpeek/guest/lib.sh
. /kpeek/guest/fi-lib.sh

fi_available || { fail "kernel fault injection" "absent: /proc/self/fail-nth or $FI/failslab missing (this test belongs to the debug kernel lane)"; exit 1; }
fi_setup || { fail "fault injection setup" "writing $FI/failslab and fail_page_alloc failed"; exit 1; }
fi_leaks_start
for a in $FI_ATTRS; do echo Y >$FI/$a/task-filter; done
fi_prob() { for a in $FI_ATTRS; do echo "$1" >$FI/$a/probability; done; }

# fi_attrs PROBABILITY INTERVAL: both attributes fail every INTERVAL-th allocation that passes the
# filters with PROBABILITY percent
fi_attrs() { for a in $FI_ATTRS; do echo "$2" >$FI/$a/interval && echo "$1" >$FI/$a/probability; done; }

# How many allocations a load makes (fail-nth armed far beyond them counts them): with
# interval=K and probability=70, about 70% of the modprobes fail, at varying allocations.
unload_all
o=$(faultinj 1000000 load $KO/kpeek.ko)
K=$(echo "$o" | sed -n 's/.* allocs=\([0-9]*\).*/\1/p')
rmmod kpeek
[ -n "$K" ] && [ "$K" -gt 0 ] || { fail "count the allocations of kpeek.ko's init" "faultinj said: $o"; exit 1; }
echo "95-failslab: kpeek.ko's init makes $K allocations (with a kpeek frame on the stack)"

ROUNDS=${ROUNDS:-30}
loads=0 load_fails=0 op_fails=0 ops=0 bad=0
r=1
while [ $r -le $ROUNDS ]; do
	unload_all || { fail "round $r: unload" "rmmod failed"; bad=$((bad + 1)); break; }
	fi_attrs 70 $K
	if out=$(sh -c 'echo 1 >/proc/self/make-it-fail && exec modprobe kpeek' 2>&1); then
		fi_prob 0
		loads=$((loads + 1))
		# the first probe enable makes the kpeek_probes group, which stays: make it first
		faultinj 0 ioctl-probe 2 1 >/dev/null && faultinj 0 ioctl-probe 2 0 >/dev/null
		base=$(fi_state)
		fi_attrs 25 1
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
		fi_prob 0
		load_fails=$((load_fails + 1))
		echo "$out" | grep -q "Cannot allocate memory" ||
			{ fail "round $r: failed modprobe errno" "modprobe said: $out (want ENOMEM)"; bad=$((bad + 1)); }
		loaded kpeek && { fail "round $r: failed modprobe" "but kpeek is loaded"; bad=$((bad + 1)); }
		for f in $PROC $SYS $CFS $DBG /sys/module/kpeek /dev/kpeek; do
			[ -e $f ] && { fail "round $r: failed modprobe leaves no file" "$f"; bad=$((bad + 1)); }
		done
	fi
	[ $bad -gt 3 ] && break
	r=$((r + 1))
done
fi_off
echo "95-failslab: $ROUNDS rounds: $loads loads, $load_fails failed modprobes, $op_fails of $ops calls failed"
[ $bad = 0 ] && pass "$ROUNDS rounds of modprobe and calls under failslab/fail_page_alloc: clean errnos, nothing left behind"
[ $load_fails -gt 0 ] || fail "failures injected into modprobe" "none in $ROUNDS rounds (probability too low?)"
[ $loads -gt 0 ] || fail "modprobe succeeded at least once" "never in $ROUNDS rounds (probability too high?)"
[ $op_fails -gt 0 ] || fail "failures injected into the calls" "none of $ops"
load_all || fail "load" "failed"
fi_leaks "modprobe and calls under failslab"
check "module unloads" unload_all
check "and loads again" load_all
fi_dmesg_check "95-failslab"

# fi-lib.sh - the kernel's fault injection (failslab, fail_page_alloc) for the guest tests.
# Source it after lib.sh. See Documentation/fault-injection/fault-injection.rst of the kernel.
#
# Only the debug kernel (vmtest/run --kernel debug) has it: CONFIG_FAILSLAB,
# CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAULT_INJECTION_STACKTRACE_FILTER.

FI=/sys/kernel/debug
FI_ATTRS="failslab fail_page_alloc"
# Kernel complaints. Allocation-failure reports ("page allocation failure", "percpu: allocation
# failed", with their backtraces) are what injected failures cause and are not in this list.
FI_SPLAT='BUG:|WARNING:|Oops|general protection|kernel BUG|UBSAN:|INFO: trying to register|INFO: task .* blocked|detected stall'

fi_available() {
	[ -e /proc/self/fail-nth ] && [ -e $FI/failslab/require-start ] && [ -d $FI/fail_page_alloc ]
}

# fi_setup: GFP_KERNEL allocations of any order may fail, quietly, and only those made with a
# frame of module text on the stack (the range above the kernel image, where modules are
# loaded): fail-nth then counts kpeek.ko's own allocations, not the module loader's or the
# syscall layer's. Probability 0: nothing fails unless a test arms fail-nth or sets it.
fi_setup() {
	kend=$(awk '$3 == "_end" { print $1 }' /proc/kallsyms)
	[ -n "$kend" ] && [ "$kend" != 0000000000000000 ] || { echo "fi_setup: no _end in /proc/kallsyms"; return 1; }
	for a in $FI_ATTRS; do
		echo N >$FI/$a/ignore-gfp-wait &&
			echo 0 >$FI/$a/verbose &&
			echo 0 >$FI/$a/probability &&
			echo 1 >$FI/$a/interval &&
			echo -1 >$FI/$a/times &&
			echo 0 >$FI/$a/space &&
			echo N >$FI/$a/task-filter &&
			echo 32 >$FI/$a/stacktrace-depth &&
			echo 0x$kend >$FI/$a/require-start &&
			echo 0xffffffffff000000 >$FI/$a/require-end || return 1
	done
	echo 0 >$FI/fail_page_alloc/min-order &&
		echo N >$FI/fail_page_alloc/ignore-gfp-highmem
}

# fi_off: nothing fails any more
fi_off() {
	for a in $FI_ATTRS; do
		echo 0 >$FI/$a/probability
		echo N >$FI/$a/task-filter
	done
}

# fi_state: kpeek.ko's own bookkeeping (debugfs stats) that a failed call must leave as it was,
# once the frees queued for after an RCU grace period have run (up to 10 s)
fi_state() {
	i=0
	while [ "$(stat_get rcu_pending 2>/dev/null)" != 0 ] && [ -e $DBG/stats ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -E '^(groups|counters|api_groups|configfs_groups|bytes|user_groups) ' $DBG/stats 2>/dev/null |
		tr '\n' ' '
}

# fi_dmesg_check NAME: fails NAME on a kernel splat in dmesg, then clears dmesg (the expected
# allocation-failure backtraces would otherwise trip suite.sh's "Call Trace" check)
fi_dmesg_check() {
	if dmesg | grep -E "$FI_SPLAT" >/tmp/fi-splat; then
		fail "$1: no kernel splat" "$(head -5 /tmp/fi-splat | tr '\n' '|')"
		dmesg | grep -E -B2 -A25 "$FI_SPLAT" | head -60 | sed 's/^/    dmesg| /'
	else
		pass "$1: no kernel splat"
	fi
	dmesg -c >/dev/null
}

# fi_sweep NAME ALLOWED CLEANUP -- FAULTINJ-ARGS...: runs `faultinj N ARGS` for N = 1, 2, ...
# until the call makes fewer than N allocations (injected=0): every allocation of the call fails
# once, in turn. Each result must be one of ALLOWED (errno names, and "ok"), and the last one
# (nothing injected) ok. After each run `eval CLEANUP` (with $fi_id: what a create returned)
# must bring fi_state back to what it was before the sweep.
FI_MAX=${FI_MAX:-1000}
fi_sweep() {
	name=$1 allowed=$2 cleanup=$3
	shift 4
	base=$(fi_state)
	n=1 bad=0 tally="" last=""
	while [ $n -le $FI_MAX ]; do
		out=$(faultinj $n "$@" 2>&1)
		res=$(echo "$out" | awk '{ print $2 }')
		inj=$(echo "$out" | sed -n 's/.* injected=\([01]\).*/\1/p')
		fi_id=$(echo "$out" | sed -n 's/.* id=\([0-9]*\).*/\1/p')
		if [ -z "$inj" ]; then
			fail "$name: N=$n" "faultinj said: $out"
			bad=$((bad + 1))
			break
		fi
		case " $allowed " in
		*" $res "*) ;;
		*) fail "$name: N=$n: errno" "$out (want one of: $allowed)"; bad=$((bad + 1)) ;;
		esac
		tally="$tally $res"
		eval "$cleanup"
		now=$(fi_state)
		if [ "$now" != "$base" ]; then
			fail "$name: N=$n: state restored" "after '$out': '$now', was '$base'"
			bad=$((bad + 1))
		fi
		[ $bad -gt 3 ] && break
		last=$res
		[ "$inj" = 0 ] && break
		n=$((n + 1))
	done
	if [ "$inj" != 0 ]; then
		fail "$name: sweep ended" "still injecting at N=$n (FI_MAX=$FI_MAX) or stopped on errors"
		return 1
	fi
	counts=$(echo $tally | tr ' ' '\n' | sort | uniq -c | awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }')
	check_eq "$name: succeeds with no failure injected" "$last" ok
	[ $bad = 0 ] && pass "$name: each of its $((n - 1)) allocations failed in turn: $counts; state restored each time"
	[ $n -gt 1 ] || fail "$name: allocates" "no allocation of the call was ever failed (N=1 injected nothing)"
}

# a backtrace line of kpeek.ko's code (not the comm of a process named kpeek)
FI_KPEEK_FRAME='\\[kpeek\\]|kpeek_[a-z]'

# fi_leaks_start: forget the leaks reported so far (fi_leaks reports only newer ones)
fi_leaks_start() { [ -e $FI/kmemleak ] && echo clear >$FI/kmemleak; }

# fi_leaks NAME: kmemleak's report after a scan, restricted to objects allocated with a kpeek
# frame on the stack (kpeek.ko must still be loaded, so that its frames have names)
fi_leaks() {
	kl=$FI/kmemleak
	if [ ! -e $kl ]; then
		fail "$1: kmemleak" "$kl missing (CONFIG_DEBUG_KMEMLEAK)"
		return
	fi
	# An object must be unreferenced for 5 s before a scan reports it; two scans, as the
	# kernel's documentation suggests against transient false positives.
	sleep 6
	echo scan >$kl
	echo scan >$kl
	awk -v re="$FI_KPEEK_FRAME" '/^unreferenced object/ { if (blk ~ re) print blk; blk = $0; next }
		{ blk = blk "\n" $0 } END { if (blk ~ re) print blk }' $kl >/tmp/fi-leaks
	if [ -s /tmp/fi-leaks ]; then
		fail "$1: no leak (kmemleak)" "$(grep -c '^unreferenced object' /tmp/fi-leaks) unreferenced objects allocated by kpeek"
		head -60 /tmp/fi-leaks | sed 's/^/    kmemleak| /'
	else
		pass "$1: no leak (kmemleak: no unreferenced object allocated by kpeek)"
	fi
}

# 94-faultinj (debug kernel lane only): kpeek.ko's entry points under the kernel's systematic
# fault injection. For each of ioctl CREATE (group, counter), netlink CREATE (group, counter),
# configfs mkdir (group, counter), open and read of /dev/kpeek, RING_SETUP and PROBE_SET (ioctl and
# netlink): the call's 1st, 2nd, ... allocation fails in turn (fail-nth, counting kpeek's own
# allocations) until the call makes no more. Each run ends in success or a clean errno, kpeek's
# bookkeeping (debugfs stats) is back where it was after clean-up, kmemleak finds nothing
# allocated by kpeek unreferenced, no splat, and the module unloads and loads again.
#
# CREATE is all or nothing on both channels: an error answer means nothing was created (a
# netlink reply that cannot be allocated or delivered, an ioctl argument the id cannot be
# written to), so that the sweeps' "state restored" holds and a retry does not meet EEXIST.
#
# read(2) of /dev/kpeek is swept into a buffer faulted in beforehand (faultinj.c): a page fault
# taken inside copy_to_user() allocates the user's page with a kpeek frame on the stack, and
# when fail-nth fails that allocation the kernel answers EFAULT (a user page it could not
# provide; the debug kernel has no FAULT_INJECTION_USERCOPY). That is the page-fault path's
# errno, not kpeek's: such a run would not test kpeek's own allocations, so EFAULT stays
# outside the allowed answers.
. /kpeek/guest/lib.sh
. /kpeek/guest/fi-lib.sh

fi_available || { fail "kernel fault injection" "absent: /proc/self/fail-nth or $FI/failslab missing (this test belongs to the debug kernel lane)"; exit 1; }
fi_setup || { fail "fault injection setup" "writing $FI/failslab and fail_page_alloc failed"; exit 1; }
fi_leaks_start

# clean-up after a create: destroy what it made (target T: 1 group, 2 counter)
destroy='[ -z "$fi_id" ] || nltest destroy $fi_id $T >/dev/null || fail "N=$n: destroy $fi_id" "failed"'
T=1
fi_sweep "ioctl CREATE group" "ok ENOMEM" "$destroy" -- ioctl-create fig
fi_sweep "netlink CREATE group" "ok ENOMEM ENOBUFS" "$destroy" -- nl-create fng

# ioctl CREATE whose argument is read-only: the object is made, its id cannot be written back:
# EFAULT and nothing left (before the fix: EFAULT and a group nobody knew the id of)
base=$(fi_state)
o=$(faultinj 0 ioctl-create-ro fro 2>&1)
check_eq "ioctl CREATE into a read-only argument: errno" "$(echo "$o" | awk '{ print $2 }')" EFAULT
check_eq "ioctl CREATE into a read-only argument: nothing created (state)" "$(fi_state)" "$base"
check "ioctl CREATE into a read-only argument: the name is free again" sh -c \
	'id=$(faultinj 0 ioctl-create fro | sed -n "s/.* id=\([0-9]*\).*/\1/p") && [ -n "$id" ] && nltest destroy $id 1 >/dev/null'

gid=$(nltest create fic) || fail "create group fic" "failed"
T=2
fi_sweep "ioctl CREATE counter" "ok ENOMEM" "$destroy" -- ioctl-create fic c1
fi_sweep "netlink CREATE counter" "ok ENOMEM ENOBUFS" "$destroy" -- nl-create fic c2
nltest destroy "$gid" 1 >/dev/null || fail "destroy group fic" "failed"

fi_sweep "configfs mkdir group" "ok ENOMEM" '[ ! -d $CFS/groups/fcg ] || rmdir $CFS/groups/fcg' \
	-- mkdir $CFS/groups/fcg
mkdir $CFS/groups/fcg
fi_sweep "configfs mkdir counter" "ok ENOMEM" '[ ! -d $CFS/groups/fcg/c ] || rmdir $CFS/groups/fcg/c' \
	-- mkdir $CFS/groups/fcg/c
rmdir $CFS/groups/fcg

fi_sweep "open /dev/kpeek" "ok ENOMEM" ":" -- open /dev/kpeek
fi_sweep "read /dev/kpeek (snapshot)" "ok ENOMEM" ":" -- read /dev/kpeek

# The first probe enable makes the kpeek_probes group: once before, so that the sweeps start
# from the state they return to.
faultinj 0 ioctl-probe 2 1 >/dev/null && faultinj 0 ioctl-probe 2 0 >/dev/null ||
	fail "PROBE_SET sched_switch on/off" "failed"
fi_sweep "ioctl RING_SETUP 64 KiB" "ok ENOMEM" 'faultinj 0 ioctl-ring 0 >/dev/null' -- ioctl-ring 65536
fi_sweep "ioctl PROBE_SET sched_switch" "ok ENOMEM" 'faultinj 0 ioctl-probe 2 0 >/dev/null' \
	-- ioctl-probe 2 1
fi_sweep "netlink PROBE_SET sched_switch" "ok ENOMEM ENOBUFS" 'faultinj 0 nl-probe 2 0 >/dev/null' \
	-- nl-probe 2 1
fi_off

fi_leaks "entry points under fail-nth"
check "module unloads after the sweeps" unload_all
check "and loads again" load_all
fi_dmesg_check "94-faultinj"

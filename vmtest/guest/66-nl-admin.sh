# 66-nl-admin: CREATE / DESTROY / RESET / SET_THRESHOLD / PROBE_SET: refused as non-root (EPERM,
# state unchanged), accepted as root; errors carry the right errno and an extack message.
. /kpeek/guest/lib.sh
. /kpeek/guest/nl-lib.sh

rmmod kpeek_example && insmod $KO/kpeek_example.ko || { fail "reload kpeek_example" "failed"; exit 1; }
dd if=/dev/zero of=/dev/kpeek_example bs=10 count=5 2>/dev/null
wid=$(nl_field "$(nltest get kpeek_example writes)" id)
egid=$(nl_field "$(nltest get kpeek_example writes)" group_id)

# ---- non-root: every admin command refused, nothing changes
gen0=$(stat_get generation)
nl_err "non-root CREATE group" EPERM "" as_user nltest create nlu
nl_err "non-root RESET all" EPERM "" as_user nltest reset
nl_err "non-root RESET counter" EPERM "" as_user nltest reset $wid
nl_err "non-root DESTROY" EPERM "" as_user nltest destroy $egid
nl_err "non-root SET_THRESHOLD" EPERM "" as_user nltest threshold $wid 10
nl_err "non-root PROBE_SET" EPERM "" as_user nltest probe 1 0
# The genetlink core checks the policy before the handler checks the capability: what the
# policy accepts gets EPERM, what it refuses EINVAL, from anyone.
nl_err "non-root odd but policy-valid CREATE: EPERM" EPERM "CAP_SYS_ADMIN" as_user nltest raw 5 9:u32=1
nl_err "non-root CREATE with an attribute it does not take: EINVAL" EINVAL "" \
	as_user nltest raw 5 12:u64=1
# CAP_SYS_ADMIN on every channel, as the ioctls: CAP_NET_ADMIN alone is not enough.
NETADM="runas -c 12 $USER_UID"
nl_err "CAP_NET_ADMIN-only CREATE" EPERM "CAP_SYS_ADMIN" $NETADM nltest create nlu
nl_err "CAP_NET_ADMIN-only RESET" EPERM "CAP_SYS_ADMIN" $NETADM nltest reset $wid
nl_err "CAP_NET_ADMIN-only DESTROY" EPERM "CAP_SYS_ADMIN" $NETADM nltest destroy $egid
nl_err "CAP_NET_ADMIN-only SET_THRESHOLD" EPERM "CAP_SYS_ADMIN" $NETADM nltest threshold $wid 10
nl_err "CAP_NET_ADMIN-only PROBE_SET" EPERM "CAP_SYS_ADMIN" $NETADM nltest probe 1 0
check_eq "non-root changed nothing: generation" "$(stat_get generation)" "$gen0"
check_eq "non-root changed nothing: writes" "$(proc_value kpeek_example writes)" 5
check "non-root made no group" sh -c "! grep -q '^nlu ' $PROC && [ ! -e $SYS/nlu ]"

# CAP_SYS_ADMIN alone (no CAP_NET_ADMIN) suffices, as for the ioctls.
sid=$(runas -c 21 $USER_UID nltest create nlsys) || fail "CAP_SYS_ADMIN-only CREATE" "refused"
[ -n "$sid" ] && pass "CAP_SYS_ADMIN-only CREATE" && nltest destroy $sid >/dev/null

# ---- CREATE
gid=$(nltest create nlu) || fail "create group" "failed"
cid=$(nltest create nlu hits) || fail "create counter" "failed"
check "group id and counter id are numbers" sh -c "[ $gid -gt 0 ] && [ $cid -gt $gid ]"
check_eq "new counter in procfs" "$(proc_value nlu hits)" 0
check "new counter in sysfs" test -f $SYS/nlu/hits
check_eq "new counter by id" "$(nl_field "$(nltest get $cid)" counter)" hits
check_eq "debugfs user_groups" "$(stat_get user_groups)" 1
nl_err "CREATE duplicate group" EEXIST "a group of this name exists" nltest create nlu
nl_err "CREATE duplicate counter" EEXIST "a counter of this name exists" nltest create nlu hits
nl_err "CREATE bad group name" EINVAL "invalid group name" nltest create 'a-b'
nl_err "CREATE reserved group name" EINVAL "invalid group name" nltest create info
nl_err "CREATE the probes' group name" EEXIST "kpeek_probes is kpeek's own group" nltest create kpeek_probes
nl_err "CREATE empty counter name" EINVAL "invalid counter name" nltest create nlu ''
nl_err "CREATE reserved counter name" EINVAL "invalid counter name" nltest create nlu reset
nl_err "CREATE 32-byte name (policy)" EINVAL "" nltest create nlu abcdefghijabcdefghijabcdefghij12
check "CREATE 31-byte name" nltest create nlu abcdefghijabcdefghijabcdefghij1
nl_err "CREATE counter in a missing group" ENOENT "no such group" nltest create nosuch c
nl_err "CREATE counter in a module's group" EPERM "belongs to a module or to configfs" nltest create kpeek_example c
mkdir $CFS/groups/nlcfs
nl_err "CREATE counter in a configfs group" EPERM "belongs to a module or to configfs" nltest create nlcfs c
nl_err "CREATE without GROUP" EINVAL "CREATE needs GROUP" nltest raw 5

# ---- RESET
check_eq "writes before reset" "$(proc_value kpeek_example writes)" 5
check "RESET counter by id" nltest reset $wid
check_eq "RESET counter zeroed it" "$(proc_value kpeek_example writes)" 0
check_eq "RESET counter left bytes_written" "$(proc_value kpeek_example bytes_written)" 50
check "RESET group by id with TARGET" nltest reset $egid 1
check_eq "RESET group zeroed bytes_written" "$(proc_value kpeek_example bytes_written)" 0
mkdir $CFS/groups/nlcfs/v && echo 77 >$CFS/groups/nlcfs/v/value
check "RESET all" nltest reset
check_eq "RESET all zeroed configfs counter" "$(proc_value nlcfs v)" 0
nl_err "RESET unknown id" ENOENT "no group or counter of this TARGET" nltest reset 999999
nl_err "RESET counter id as GROUP" ENOENT "" nltest reset $wid 1
nl_err "RESET ALL with an id" EINVAL "takes no ID" nltest reset $wid 0
nl_err "RESET GROUP without id" EINVAL "needs its ID" nltest raw 4 6:u32=1

# ---- SET_THRESHOLD (events are tested in 69)
check "SET_THRESHOLD" nltest threshold $cid 1000
check_eq "GET shows the threshold" "$(nl_field "$(nltest get $cid)" threshold)" 1000
check "SET_THRESHOLD 0 clears" nltest threshold $cid 0
check_eq "GET shows no threshold" "$(nl_field "$(nltest get $cid)" threshold)" ""
nl_err "SET_THRESHOLD unknown id" ENOENT "no counter with this ID" nltest threshold 999999 5
nl_err "SET_THRESHOLD on a group id" ENOENT "no counter with this ID" nltest threshold $gid 5
nl_err "SET_THRESHOLD without THRESHOLD" EINVAL "needs ID and THRESHOLD" nltest raw 7 7:u64=$cid

# ---- PROBE_SET (K-DEV's probes; configuration semantics are tested with the ioctl)
check "PROBE_SET netif_receive_skb dev=lo enable" nltest probe 1 1 dev=lo minlen=0
check "kpeek_probes group exists" test -d $SYS/kpeek_probes
check "PROBE_SET netif_receive_skb disable" nltest probe 1 0
nl_err "PROBE_SET pid filter on netif" EINVAL "does not apply to this probe" nltest probe 1 1 pid=1
nl_err "PROBE_SET without PROBE" EINVAL "needs PROBE" nltest raw 8 15:u32=1

# ---- DESTROY
nl_err "DESTROY a module's group" EPERM "its owner" nltest destroy $egid
nl_err "DESTROY a module's counter" EPERM "its owner" nltest destroy $wid 2
cfsid=$(nl_field "$(nltest get nlcfs v)" group_id)
nl_err "DESTROY a configfs group" EPERM "its owner" nltest destroy $cfsid
nl_err "DESTROY unknown id" ENOENT "no group or counter" nltest destroy 999999
nl_err "DESTROY group id as COUNTER" ENOENT "" nltest destroy $gid 2
nl_err "DESTROY without ID" EINVAL "needs the ID" nltest raw 6
check "DESTROY counter" nltest destroy $cid
check_eq "destroyed counter gone from procfs" "$(proc_value nlu hits)" ""
check "DESTROY group (with a counter left)" nltest destroy $gid 1
check "destroyed group gone from procfs and sysfs" sh -c "! grep -q '^nlu ' $PROC && [ ! -e $SYS/nlu ]"
check_eq "debugfs user_groups back to 0" "$(stat_get user_groups)" 0
check_eq "module group untouched" "$(nl_field "$(nltest get $wid)" counter)" writes
rmdir $CFS/groups/nlcfs/v $CFS/groups/nlcfs

# ---- user groups left at unload go quietly (suite checks dmesg for WARN)
nltest create nlleft >/dev/null && nltest create nlleft c >/dev/null
check "threshold on a counter left at unload" nltest threshold $(nl_field "$(nltest get nlleft c)" id) 5
check "rmmod with user groups and thresholds left" sh -c "rmmod kpeek_example && rmmod kpeek"
check "reload" load_all
check "no group left after reload" sh -c "! grep -q '^nlleft ' $PROC"

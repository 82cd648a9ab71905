# 65-nl-basic: generic netlink family "kpeek": resolves, GET_INFO, GET_COUNTER by id and by name,
# and a dump that equals /proc/kpeek exactly after a known workload (root and non-root).
. /kpeek/guest/lib.sh
. /kpeek/guest/nl-lib.sh

check "family kpeek resolves with its events group" sh -c 'nltest family | grep -q "events=[1-9]"'

# A fresh example module and a known workload.
rmmod kpeek_example && insmod $KO/kpeek_example.ko || { fail "reload kpeek_example" "failed"; exit 1; }
dd if=/dev/zero of=/dev/kpeek_example bs=100 count=7 2>/dev/null
dd if=/dev/kpeek_example bs=512 count=3 2>/dev/null >/dev/null
mkdir $CFS/groups/nlb && mkdir $CFS/groups/nlb/x && echo 18446744073709551615 >$CFS/groups/nlb/x/value

info=$(nltest info)
check_eq "info abi_version" "$(nl_field "$info" abi_version)" $ABI_VERSION
check_eq "info groups = debugfs" "$(nl_field "$info" groups)" "$(stat_get groups)"
check_eq "info counters = debugfs" "$(nl_field "$info" counters)" "$(stat_get counters)"
check_eq "info generation = debugfs" "$(nl_field "$info" generation)" "$(stat_get generation)"

nltest dump -c >/tmp/nl.dump 2>/tmp/nl.err
check_eq "dump exit status (complete, consistent, ordered)" $? 0
check_eq "dump equals /proc/kpeek exactly" "$(cat /tmp/nl.dump)" "$(cat $PROC)"
check_eq "dump has the known writes" "$(awk '$1 == "kpeek_example" && $2 == "writes" { print $3 }' /tmp/nl.dump)" 7
check_eq "dump has the known bytes_written" "$(awk '$1 == "kpeek_example" && $2 == "bytes_written" { print $3 }' /tmp/nl.dump)" 700
check_eq "dump carries u64 max" "$(awk '$1 == "nlb" { print $3 }' /tmp/nl.dump)" 18446744073709551615
as_user nltest dump -c >/tmp/nl.dump.user 2>/dev/null
check_eq "non-root dump equals /proc/kpeek" "$(cat /tmp/nl.dump.user)" "$(cat $PROC)"
check_eq "dump -g filters one group" "$(nltest dump -g nlb 2>/dev/null)" "nlb x 18446744073709551615"
nl_err "dump -g of a missing group (error and extack in NLMSG_DONE)" ENOENT "no such group" nltest dump -g nosuchgroup

g=$(nltest get kpeek_example reads)
check_eq "get by name: value" "$(nl_field "$g" value)" 3
id=$(nl_field "$g" id)
check_eq "get by id: same counter" "$(nltest get $id)" "$g"
check_eq "get by id as non-root" "$(as_user nltest get $id)" "$g"
check_eq "get: group and counter names" "$(nl_field "$g" group)/$(nl_field "$g" counter)" kpeek_example/reads
nl_err "get of a missing counter" ENOENT "no such counter in the group" nltest get kpeek_example nope
nl_err "get of a missing group" ENOENT "no such group" nltest get nope reads
nl_err "get of an unknown id" ENOENT "no counter with this ID" nltest get 999999
gid=$(nl_field "$g" group_id)
nl_err "get with a group id" ENOENT "no counter with this ID" nltest get $gid

rmdir $CFS/groups/nlb/x $CFS/groups/nlb

# 60-chardev: /dev/kpeek exists as a 0600 misc device; its read() snapshot (header, records)
# equals /proc/kpeek after a workload, and partial reads and lseek work on one copy.
. /kpeek/guest/lib.sh

check "/dev/kpeek is a character device" test -c /dev/kpeek
check_eq "/dev/kpeek mode 0600 root:root" "$(stat -c '%a %u %g' /dev/kpeek)" "600 0 0"
check_eq "its major is misc (10)" "$(stat -c '%t' /dev/kpeek)" a
expect_err "uid 1000 cannot open it" EACCES as_user cat /dev/kpeek

# A workload through two channels: configfs counters with set values, the example's writes.
mkdir $CFS/groups/wl
for c in a b c; do mkdir $CFS/groups/wl/$c; done
echo 7 >$CFS/groups/wl/a/value
echo 18446744073709551615 >$CFS/groups/wl/c/value
for i in 1 2 3 4 5; do echo x >/dev/kpeek_example; done
kpeekdev snap >/tmp/snap.txt
check "snapshot parses" test -s /tmp/snap.txt
check_eq "snapshot == /proc/kpeek" "$(cat /tmp/snap.txt)" "$(cat $PROC)"
check_eq "u64 max survives" "$(grep '^wl c ' /tmp/snap.txt)" "wl c 18446744073709551615"
kpeekdev snap-check
rmdir $CFS/groups/wl/a $CFS/groups/wl/b $CFS/groups/wl/c $CFS/groups/wl
check_eq "snapshot after rmdir == /proc/kpeek" "$(kpeekdev snap)" "$(cat $PROC)"
# The byte stream as a plain file: dd in odd pieces gives the same bytes as one read.
dd if=/dev/kpeek bs=65536 2>/dev/null >/tmp/s1
dd if=/dev/kpeek bs=13 2>/dev/null >/tmp/s2
check "dd bs=13 == dd bs=64k" cmp /tmp/s1 /tmp/s2
check_eq "magic KPSN (little-endian)" "$(head -c 4 /tmp/s1 | od -An -tx4 | tr -d ' ')" 4b50534e
# debugfs carries the same lines (for measuring it as a channel).
check_eq "debugfs counters mode" "$(stat -c %a $DBG/counters)" 400
mkdir $CFS/groups/dbg && mkdir $CFS/groups/dbg/v && echo 5 >$CFS/groups/dbg/v/value
check_eq "debugfs counters == /proc/kpeek" "$(cat $DBG/counters)" "$(cat $PROC)"
rmdir $CFS/groups/dbg/v $CFS/groups/dbg

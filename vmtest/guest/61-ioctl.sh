# 61-ioctl: every ioctl command and its errnos as root; as uid 1000 (with a descriptor opened by
# root) reads work and every mutation is refused with EPERM; GET_COUNTERS paging == procfs.
. /kpeek/guest/lib.sh

kpeekdev ioctl-errno
kpeekdev ioctl-user
mkdir $CFS/groups/pg
for c in $(names 20 c); do mkdir $CFS/groups/pg/$c; echo 1$c | tr -d c >$CFS/groups/pg/$c/value; done
check_eq "GET_COUNTERS in pages of 7 == /proc/kpeek" "$(kpeekdev ioctl-dump)" "$(cat $PROC)"
for c in $(names 20 c); do rmdir $CFS/groups/pg/$c; done
rmdir $CFS/groups/pg
check_eq "no user groups left" "$(stat_get user_groups)" 0
check_eq "no groups but the example's" "$(stat_get groups)" 1

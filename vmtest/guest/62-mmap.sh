# 62-mmap: the counters mapping equals /proc/kpeek after MMAP_SYNC, is read-only (PROT_WRITE and
# mprotect refused), follows changes without system calls (refresh worker), has the same
# generation as INFO.
. /kpeek/guest/lib.sh

mkdir $CFS/groups/mm
for c in x y; do mkdir $CFS/groups/mm/$c; done
echo 99 >$CFS/groups/mm/y/value
for i in 1 2 3; do echo x >/dev/kpeek_example; done
check_eq "mapping after MMAP_SYNC == /proc/kpeek" "$(kpeekdev mmap-dump)" "$(cat $PROC)"
kpeekdev mmap-check
echo 100 >$CFS/groups/mm/x/value
check_eq "a changed value after MMAP_SYNC" "$(kpeekdev mmap-dump | grep '^mm x ')" "mm x 100"
rmdir $CFS/groups/mm/x $CFS/groups/mm/y $CFS/groups/mm
check_eq "after rmdir: mapping == /proc/kpeek" "$(kpeekdev mmap-dump)" "$(cat $PROC)"

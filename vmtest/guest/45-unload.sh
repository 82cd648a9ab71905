# 45-unload: module refcounting. rmmod kpeek_example with its device open is refused; rmmod
# kpeek.ko while a client module or a configfs group uses it is refused; a module that forgets
# to destroy its group has it destroyed by kpeek.ko when it unloads.
. /kpeek/guest/lib.sh

exec 3<>/dev/kpeek_example
expect_err "rmmod kpeek_example with the device open" EAGAIN rmmod kpeek_example
check "still loaded" loaded kpeek_example
check "the open device still works" sh -c 'dd bs=8 count=1 <&3 2>/dev/null | wc -c | grep -qx 8'
check "still writable" sh -c 'echo hi >&3'
exec 3>&-
check "rmmod after close" rmmod kpeek_example
check "group gone from sysfs" test ! -e $SYS/kpeek_example
check_eq "group gone from procfs" "$(grep -c kpeek_example $PROC)" 0
check "device gone" test ! -e /dev/kpeek_example

insmod $KO/kpeek_example.ko
expect_err "rmmod kpeek with kpeek_example loaded" EAGAIN rmmod kpeek
check "kpeek still loaded" loaded kpeek
check_eq "kpeek refcount shows the user" "$(awk '$1 == "kpeek" { print $4 }' /proc/modules)" "kpeek_example,"
rmmod kpeek_example

mkdir $CFS/groups/pin
expect_err "rmmod kpeek with a configfs group" EAGAIN rmmod kpeek
check "kpeek still loaded (configfs)" loaded kpeek
rmdir $CFS/groups/pin

# The module-unload rule: leftovers are destroyed by kpeek.ko.
insmod $KO/kpeek_example.ko skip_cleanup=1
echo x >/dev/kpeek_example
check_eq "leaky example counts" "$(cat $SYS/kpeek_example/writes)" 1
dmesg -c >/dev/null
check "rmmod the leaky example" rmmod kpeek_example
check "its group was destroyed by kpeek" test ! -e $SYS/kpeek_example
check_eq "procfs has no leftover" "$(grep -c kpeek_example $PROC)" 0
check_eq "debugfs groups 0" "$(stat_get groups)" 0
check_eq "debugfs counters 0" "$(stat_get counters)" 0
check "dmesg says so" sh -c 'dmesg | grep -q "destroying group kpeek_example left by module kpeek_example"'
check "the name is free again" insmod $KO/kpeek_example.ko

# Unload with a reader mid-file: an open /proc/kpeek and sysfs file do not pin the module, and
# reading them after unload fails cleanly instead of touching freed memory.
rmmod kpeek_example
mkdir $CFS/groups/r && mkdir $CFS/groups/r/c
exec 4<$PROC
exec 5<$SYS/r/c
exec 6<$CFS/groups/r/c/value
rmdir $CFS/groups/r/c $CFS/groups/r
expect_err "configfs value read after rmdir" ENOENT sh -c 'cat <&6'
exec 6<&-
check "rmmod kpeek with /proc/kpeek and a sysfs file open" rmmod kpeek
expect_err "read of the open sysfs file after unload" ENODEV sh -c 'cat <&5'
check "read of the open /proc/kpeek after unload is empty or fails" sh -c 'cat <&4 >/dev/null; true'
exec 4<&- 5<&-
check "no leftover files" sh -c "test ! -e $PROC && test ! -e $SYS && test ! -e $CFS && test ! -e $DBG"
load_all

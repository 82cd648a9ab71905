# 48-api: the exported API from inside the kernel (kpeek_apitest.ko, vmtest only): errnos,
# adds from hard-interrupt context and from every CPU at once, name reuse, and the rule that a
# module's leftover groups are destroyed when it unloads.
. /kpeek/guest/lib.sh

dmesg -c >/dev/null
check "insmod kpeek_apitest" insmod $KO/kpeek_apitest.ko
dmesg | sed -n 's/.*kpeek_apitest: NOTE /NOTE: api: /p' >/tmp/api.note
cat /tmp/api.note
dmesg | sed -n 's/.*kpeek_apitest: PASS /PASS: api: /p; s/.*kpeek_apitest: FAIL /FAIL: api: /p' |
	sed 's/^FAIL: api: \(.*\) (got/FAIL: api: \1: got/' >/tmp/api.out
cat /tmp/api.out
# 28: one of them (__per_cpu_offset) needs CONFIG_SMP, which every kernel vmtest boots has.
check_eq "all 28 api checks ran" "$(grep -c '' /tmp/api.out)" 28
check "api test finished" sh -c 'dmesg | grep -q "kpeek_apitest: done, 0 failed"'
check_eq "irq counter seen in sysfs" "$(cat $SYS/apitest/irq)" 1000
check_eq "irq counter seen in procfs" "$(proc_value apitest irq)" 1000
want=$((100000 * $(grep -c '^processor' /proc/cpuinfo)))
check_eq "all-CPU counter seen in sysfs" "$(cat $SYS/apitest/cpus)" $want
check_eq "the leftover group is there" "$(proc_value apitest_left kept)" 7
check "temporary group gone" test ! -e $SYS/apitest_tmp
check "rmmod kpeek_apitest" rmmod kpeek_apitest
check "its group is gone" test ! -e $SYS/apitest
check "its leftover group was destroyed by kpeek.ko" test ! -e $SYS/apitest_left
check_eq "procfs has neither" "$(grep -c '^apitest' $PROC)" 0

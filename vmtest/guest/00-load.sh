# 00-load: the modules load, parameters and files are where the contract says, with their modes.
. /kpeek/guest/lib.sh

check "kpeek loaded" loaded kpeek
check "kpeek_example loaded" loaded kpeek_example
check "configfs loaded" loaded configfs
check_eq "param max_groups default" "$(cat $PARAMS/max_groups)" 1024
check_eq "param max_counters default" "$(cat $PARAMS/max_counters)" 65536
check_eq "param fail_init_step default" "$(cat $PARAMS/fail_init_step)" 0
for p in max_groups max_counters fail_init_step; do
	check_eq "param $p mode" "$(stat -c %a $PARAMS/$p)" 444
done
check_eq "sysfs info is the ABI version" "$(cat $SYS/info)" $ABI_VERSION
check_eq "sysfs info mode" "$(stat -c %a $SYS/info)" 444
check_eq "procfs mode" "$(stat -c %a $PROC)" 444
check_eq "debugfs stats mode" "$(stat -c %a $DBG/stats)" 400
check "configfs groups dir" test -d $CFS/groups
for c in writes bytes_written reads bytes_read; do
	check_eq "sysfs kpeek_example/$c mode" "$(stat -c %a $SYS/kpeek_example/$c)" 444
	check_eq "sysfs kpeek_example/$c starts at 0" "$(cat $SYS/kpeek_example/$c)" 0
done
check_eq "sysfs kpeek_example/reset mode" "$(stat -c %a $SYS/kpeek_example/reset)" 200
check_eq "procfs lists the example's counters in creation order" \
	"$(grep '^kpeek_example ' $PROC | cut -d' ' -f2 | tr '\n' ' ')" \
	"writes bytes_written reads bytes_read "
check "API groups are not in configfs" test ! -e $CFS/groups/kpeek_example
check_eq "misc device mode" "$(stat -c %a /dev/kpeek_example)" 600
check_eq "debugfs groups" "$(stat_get groups)" 1
check_eq "debugfs api_groups" "$(stat_get api_groups)" 1
check_eq "debugfs configfs_groups" "$(stat_get configfs_groups)" 0
check_eq "debugfs counters" "$(stat_get counters)" 4
b=$(stat_get bytes)
if [ "${b:-0}" -gt 0 ]; then pass "debugfs bytes > 0 ($b)"; else fail "debugfs bytes" "got '$b'"; fi
bad=$(find $SYS $CFS /sys/module/kpeek $PROC $DBG -perm -o+w ! -type l 2>/dev/null)
check_eq "nothing world-writable" "$bad" ""

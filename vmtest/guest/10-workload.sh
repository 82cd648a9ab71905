# 10-workload: a known workload on /dev/kpeek_example; every channel shows the exact values.
. /kpeek/guest/lib.sh

# A fresh example module: its counters start at zero.
rmmod kpeek_example && insmod $KO/kpeek_example.ko || { fail "reload kpeek_example" "rmmod/insmod failed"; exit 1; }

# 7 writes of 100 bytes, 1 of 3 bytes, 1 of 0 bytes (write(2) with length 0 still counts).
dd if=/dev/zero of=/dev/kpeek_example bs=100 count=7 2>/dev/null
printf abc >/dev/kpeek_example
printf '' | dd of=/dev/kpeek_example bs=1 count=1 2>/dev/null   # dd writes nothing: no write()
# 5 reads of 512 bytes, all zeros.
z=$(dd if=/dev/kpeek_example bs=512 count=5 2>/dev/null | tr -d '\000' | wc -c)
check_eq "reads return zeros" "$z" 0
# A read larger than the 1 MiB per-call cap returns 1 MiB (never EOF).
n=$(dd if=/dev/kpeek_example bs=3M count=1 2>/dev/null | wc -c)
check_eq "a 3 MiB read returns the 1 MiB cap" "$n" 1048576

W=8 BW=703 R=6 BR=$((5 * 512 + 1048576))
for ch in procfs sysfs; do
	for pair in writes:$W bytes_written:$BW reads:$R bytes_read:$BR; do
		c=${pair%%:*} want=${pair#*:}
		case $ch in
		procfs) got=$(proc_value kpeek_example $c) ;;
		sysfs) got=$(cat $SYS/kpeek_example/$c) ;;
		esac
		check_eq "$ch kpeek_example/$c" "$got" "$want"
	done
done
check_eq "procfs has exactly the 4 example lines" "$(grep -c '^kpeek_example ' $PROC)" 4
check_eq "debugfs counters" "$(stat_get counters)" 4
check_eq "debugfs groups" "$(stat_get groups)" 1

# A user-made group shows the same value in configfs, procfs and sysfs.
gen0=$(stat_get generation)
mkdir $CFS/groups/wl && mkdir $CFS/groups/wl/hits || fail "configfs mkdir" "failed"
check_eq "debugfs generation counts both creations" "$(stat_get generation)" $((gen0 + 2))
echo 12345678901234 >$CFS/groups/wl/hits/value
check_eq "configfs value" "$(cat $CFS/groups/wl/hits/value)" 12345678901234
check_eq "procfs value of configfs counter" "$(proc_value wl hits)" 12345678901234
check_eq "sysfs value of configfs counter" "$(cat $SYS/wl/hits)" 12345678901234
echo 18446744073709551615 >$CFS/groups/wl/hits/value
check_eq "u64 max round-trips" "$(cat $SYS/wl/hits)" 18446744073709551615
echo "requests served" >$CFS/groups/wl/hits/description
check_eq "counter description" "$(cat $CFS/groups/wl/hits/description)" "requests served"
echo "web load" >$CFS/groups/wl/description
check_eq "group description" "$(cat $CFS/groups/wl/description)" "web load"
check_eq "debugfs configfs_groups" "$(stat_get configfs_groups)" 1
check_eq "debugfs api_groups" "$(stat_get api_groups)" 1
check_eq "debugfs counters with the user group" "$(stat_get counters)" 5
check_eq "groups in creation order" "$(cut -d' ' -f1 $PROC | uniq | tr '\n' ' ')" "kpeek_example wl "

# reset zeroes every counter of one group, in every channel, and only that group.
echo 1 >$SYS/kpeek_example/reset
for c in writes bytes_written reads bytes_read; do
	check_eq "after reset sysfs $c" "$(cat $SYS/kpeek_example/$c)" 0
	check_eq "after reset procfs $c" "$(proc_value kpeek_example $c)" 0
done
check_eq "reset leaves other groups alone" "$(cat $SYS/wl/hits)" 18446744073709551615
printf 1 >$SYS/wl/reset
check_eq "reset without newline" "$(cat $CFS/groups/wl/hits/value)" 0

# Counting resumes after a reset; concurrent writers on both CPUs are all counted.
for i in 1 2 3 4; do dd if=/dev/zero of=/dev/kpeek_example bs=10 count=250 2>/dev/null & done
wait
check_eq "4 parallel writers: writes" "$(cat $SYS/kpeek_example/writes)" 1000
check_eq "4 parallel writers: bytes" "$(proc_value kpeek_example bytes_written)" 10000

rmdir $CFS/groups/wl/hits && rmdir $CFS/groups/wl
check "user group gone from sysfs" test ! -e $SYS/wl
check_eq "user group gone from procfs" "$(grep -c '^wl ' $PROC)" 0

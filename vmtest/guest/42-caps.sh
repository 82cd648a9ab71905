# 42-caps: max_groups and max_counters are enforced with ENOSPC, counting groups of both
# sources, and freed slots can be reused.
. /kpeek/guest/lib.sh

unload_all || { fail "unload" "could not unload"; exit 1; }
insmod $KO/kpeek.ko max_groups=3 max_counters=5 || { fail "insmod with caps" "failed"; exit 1; }
check_eq "param max_groups=3" "$(cat $PARAMS/max_groups)" 3
check_eq "param max_counters=5" "$(cat $PARAMS/max_counters)" 5
G=$CFS/groups
insmod $KO/kpeek_example.ko   # 1 group, 4 counters
check "group 2" mkdir $G/g2
check "group 3" mkdir $G/g3
expect_err "group 4: ENOSPC" ENOSPC mkdir $G/g4
check "counter 5" mkdir $G/g2/c5
expect_err "counter 6: ENOSPC" ENOSPC mkdir $G/g3/c6
check "rmmod kpeek_example" rmmod kpeek_example
check_eq "its group and counters are freed" "$(stat_get groups) $(stat_get counters)" "2 1"
mkdir $G/g3/c6 $G/g3/c7 $G/g3/c8
expect_err "module init fails on the counter cap" ENOSPC insmod $KO/kpeek_example.ko
check_eq "the failed init left nothing behind" "$(stat_get groups) $(stat_get counters)" "2 4"
check "no sysfs dir of the failed module" test ! -e $SYS/kpeek_example
rmdir $G/g3/c6 $G/g3/c7 $G/g3/c8
check "example loads again" insmod $KO/kpeek_example.ko
check "freed group slot reusable" sh -c "rmdir $G/g2/c5 $G/g3 && mkdir $G/g4"
rmdir $G/g4 $G/g2
unload_all
insmod $KO/kpeek.ko max_groups=0
expect_err "max_groups=0: no group at all" ENOSPC mkdir $G/any
expect_err "max_groups=0: API refused too" ENOSPC insmod $KO/kpeek_example.ko
rmmod kpeek
check "normal load again" load_all

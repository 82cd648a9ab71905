# 41-errno: bad input on every write path gets the documented errno, and changes nothing.
. /kpeek/guest/lib.sh

G=$CFS/groups
n31=abcdefghijklmnopqrstuvwxyz01234
n32=${n31}5
mkdir $G/ok || fail "mkdir ok" "failed"

# Group names.
expect_err "group: bad char" EINVAL mkdir $G/a-b
expect_err "group: dot" EINVAL mkdir $G/a.b
expect_err "group: space" EINVAL mkdir "$G/a b"
expect_err "group: Latin-1 letter" EINVAL mkdir "$G/caf$(printf '\351')"
expect_err "group: UTF-8 letter" EINVAL mkdir "$G/caf$(printf '\303\251')"
expect_err "group: reserved info" EINVAL mkdir $G/info
expect_err "group: 32 bytes" ENAMETOOLONG mkdir $G/$n32
expect_err "group: 300 bytes (VFS limit)" ENAMETOOLONG mkdir $G/$n31$n31$n31$n31$n31$n31$n31$n31$n31$n31
check "group: 31 bytes" mkdir $G/$n31
expect_err "group: duplicate" EEXIST mkdir $G/ok
expect_err "group: duplicate of an API group" EEXIST mkdir $G/kpeek_example
expect_err "group: kpeek_probes is kpeek's own, even before the probes make it" EEXIST mkdir $G/kpeek_probes
check "group: 31-byte name in sysfs" test -d $SYS/$n31
rmdir $G/$n31

# Counter names.
expect_err "counter: bad char" EINVAL mkdir $G/ok/x-y
expect_err "counter: reserved reset" EINVAL mkdir $G/ok/reset
check "counter: info is fine in a group" mkdir $G/ok/info
expect_err "counter: 32 bytes" ENAMETOOLONG mkdir $G/ok/$n32
check "counter: 31 bytes" mkdir $G/ok/$n31
expect_err "counter: duplicate" EEXIST mkdir $G/ok/$n31
expect_err "counter: clashes with attribute name" EEXIST mkdir $G/ok/description
mkdir $G/ok/c

# Values.
V=$G/ok/c/value
echo 5 >$V
for bad in abc -1 " 1" 1x 0x10 18446744073709551616 99999999999999999999 ""; do
	expect_err "value: '$bad'" EINVAL writeln_file $V "$bad"
done
check_eq "bad values changed nothing" "$(cat $V)" 5
check "value: without newline" write_file $V 77
check_eq "value: 77" "$(cat $V)" 77
check "value: 0" write_file $V 0
check_eq "value: 0 set" "$(cat $SYS/ok/c)" 0

# Descriptions: printable, at most 127 bytes (longer or non-printable: EINVAL).
D=$G/ok/c/description
d127=$(printf '%0127d' 0)
check "description: 127 bytes" writeln_file $D "$d127"
check_eq "description: 127 bytes kept" "$(cat $D)" "$d127"
expect_err "description: 128 bytes" EINVAL writeln_file $D "${d127}x"
expect_err "description: non-ASCII" EINVAL writeln_file $D "$(printf 'caf\303\251')"
expect_err "description: tab" EINVAL write_file $D "$(printf 'a\tb')"
expect_err "description: two lines" EINVAL writeln_file $D "$(printf 'a\nb')"
expect_err "group description: 128 bytes" EINVAL writeln_file $G/ok/description "${d127}x"
check_eq "bad descriptions changed nothing" "$(cat $D)" "$d127"
check "description: empty" writeln_file $D ""
check_eq "description: emptied" "$(cat $D)" ""

# sysfs reset: only "1" with an optional newline.
for bad in 0 2 11 yes " 1" "1 " "1x"; do
	expect_err "reset: '$bad'" EINVAL write_file $SYS/ok/reset "$bad"
done
expect_err "reset: 1 and two newlines" EINVAL sh -c "echo -e '1\\n' > $SYS/ok/reset"
echo 9 >$V
check_eq "bad resets changed nothing" "$(cat $V)" 9
check "reset: 1" write_file $SYS/ok/reset 1
check_eq "reset worked" "$(cat $V)" 0

# Directory rules.
expect_err "rmdir non-empty group" ENOTEMPTY rmdir $G/ok
expect_err "mkdir outside groups/" EPERM mkdir $CFS/other
expect_err "mkdir below a counter" EPERM mkdir $G/ok/c/sub
rmdir $G/ok/c $G/ok/info $G/ok/$n31 $G/ok
check_eq "debugfs back to the example's 4 counters" "$(stat_get counters)" 4

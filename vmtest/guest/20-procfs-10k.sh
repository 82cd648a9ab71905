# 20-procfs-10k: /proc/kpeek with 10,000 counters (many pages) is complete and in order, with
# large and tiny read sizes.
. /kpeek/guest/lib.sh

N=10000
mkdir $CFS/groups/big || { fail "mkdir big" "failed"; exit 1; }
t0=$(date +%s)
cd $CFS/groups/big && names $N c | xargs mkdir; cd /tmp
echo "created $N counters through configfs in $(($(date +%s) - t0))s"
check_eq "10000 counters created" "$(ls $CFS/groups/big | grep -c '^c')" $N
check_eq "debugfs counters" "$(stat_get counters)" $((N + 4))

names $N c | sed 's/^/big /; s/$/ 0/' >/tmp/want
echo 7 >$CFS/groups/big/c4321/value
sed -i 's/^big c4321 0$/big c4321 7/' /tmp/want
t0=$(date +%s)
grep '^big ' $PROC >/tmp/got
echo "read /proc/kpeek in $(($(date +%s) - t0))s"
if cmp -s /tmp/want /tmp/got; then pass "cat: 10000 lines complete and in order"; else
	fail "cat: 10000 lines" "$(wc -l </tmp/got) lines, first diff: $(diff /tmp/want /tmp/got | head -3 | tr '\n' ' ')"; fi
check_eq "whole file line count" "$(wc -l <$PROC)" $((N + 4))
for bs in 1 7 100 4095 65536; do
	dd if=$PROC bs=$bs 2>/dev/null | grep '^big ' >/tmp/got
	if cmp -s /tmp/want /tmp/got; then pass "dd bs=$bs: complete and in order"; else
		fail "dd bs=$bs" "$(wc -l </tmp/got) lines, first diff: $(diff /tmp/want /tmp/got | head -3 | tr '\n' ' ')"; fi
done
# lseek: dd skip= seeks the file (seq_lseek re-walks from the start); the bytes must match.
cat $PROC >/tmp/full
for skip in 1 3 1000 2999; do
	dd if=$PROC bs=100 skip=$skip 2>/dev/null >/tmp/part
	tail -c +$((skip * 100 + 1)) /tmp/full | cmp -s - /tmp/part && pass "lseek to $((skip * 100))" ||
		fail "lseek to $((skip * 100))" "bytes differ from the same offset of a full read"
done
check_eq "sysfs has 10000 files + reset" "$(ls $SYS/big | wc -l)" $((N + 1))
check_eq "sysfs c9999" "$(cat $SYS/big/c9999)" 0

# Remove every other counter: the rest stay in order.
cd $CFS/groups/big && seq -w 0 2 $((N - 1)) | sed 's/^/c/' | xargs rmdir; cd /tmp
seq -w 1 2 $((N - 1)) | sed 's/^/big c/; s/$/ 0/' | sed 's/^big c4321 0$/big c4321 7/' >/tmp/want
grep '^big ' $PROC >/tmp/got
if cmp -s /tmp/want /tmp/got; then pass "after removing half: complete and in order"; else
	fail "after removing half" "$(diff /tmp/want /tmp/got | head -3 | tr '\n' ' ')"; fi
expect_err "rmdir of a non-empty group" ENOTEMPTY rmdir $CFS/groups/big
cd $CFS/groups/big && ls | grep '^c' | xargs rmdir; cd /tmp
check "rmdir big" rmdir $CFS/groups/big
check_eq "debugfs counters back to 4" "$(stat_get counters)" 4
check "sysfs dir gone" test ! -e $SYS/big

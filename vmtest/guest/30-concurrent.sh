# 30-concurrent: groups and counters created and destroyed while /proc/kpeek is read over and
# over: no oops, no torn line, and counters that live throughout are always all there, in order.
. /kpeek/guest/lib.sh

S=1500
mkdir $CFS/groups/early && mkdir $CFS/groups/stable || { fail "mkdir" "failed"; exit 1; }
cd $CFS/groups/stable && names $S s | xargs mkdir; cd /tmp
names $S s | sed 's/^/stable /; s/$/ 0/' >/tmp/want

# Churn 1: counters come and go inside "stable" and "early" (interleaved with the dump).
churn_counters() {
	i=0 n=0
	while [ ! -e /tmp/stop ]; do
		mkdir $CFS/groups/stable/x$i $CFS/groups/early/y$i 2>/dev/null
		rmdir $CFS/groups/stable/x$i $CFS/groups/early/y$i 2>/dev/null
		i=$(((i + 1) % 50))
		n=$((n + 1))
	done
	echo $n >/tmp/churn1
}
# Churn 2: whole groups with counters come and go after "stable".
churn_groups() {
	i=0 n=0
	while [ ! -e /tmp/stop ]; do
		mkdir $CFS/groups/g$i && mkdir $CFS/groups/g$i/a $CFS/groups/g$i/b
		rmdir $CFS/groups/g$i/a $CFS/groups/g$i/b $CFS/groups/g$i
		i=$(((i + 1) % 20))
		n=$((n + 1))
	done
	echo $n >/tmp/churn2
}
# Readers of the files that churn removes: sysfs and configfs values vanish under them.
read_files() {
	n=0
	while [ ! -e /tmp/stop ]; do
		cat $SYS/g*/a $SYS/g*/b $SYS/stable/x* $CFS/groups/g*/a/value >/dev/null 2>&1
		echo 1 >$SYS/early/reset 2>/dev/null
		n=$((n + 1))
	done
	echo $n >/tmp/churn3
}
rm -f /tmp/stop
read_files &
p3=$!
churn_counters &
p1=$!
churn_groups &
p2=$!

bad=0 missing=0 rounds=0
while [ $rounds -lt 12 ]; do
	case $((rounds % 3)) in
	0) cat $PROC >/tmp/dump ;;
	1) dd if=$PROC bs=13 2>/dev/null >/tmp/dump ;;
	2) dd if=$PROC bs=1000 2>/dev/null >/tmp/dump ;;
	esac
	n=$(grep -cvE '^[A-Za-z0-9_]{1,31} [A-Za-z0-9_]{1,31} [0-9]+$' /tmp/dump)
	[ "$n" = 0 ] || { bad=$((bad + n)); grep -vE '^[A-Za-z0-9_]{1,31} [A-Za-z0-9_]{1,31} [0-9]+$' /tmp/dump | head -3; }
	grep -E '^stable s[0-9]+ ' /tmp/dump | cmp -s - /tmp/want || missing=$((missing + 1))
	rounds=$((rounds + 1))
done
touch /tmp/stop
wait $p1 $p2 $p3
c1=$(cat /tmp/churn1) c2=$(cat /tmp/churn2) c3=$(cat /tmp/churn3)
if [ "$c1" -gt 0 ] && [ "$c2" -gt 0 ] && [ "$c3" -gt 0 ]; then
	pass "churn ran during the dumps ($c1 counter, $c2 group, $c3 file-reader rounds)"
else
	fail "churn" "did not run ($c1/$c2/$c3 rounds)"
fi
check_eq "no torn or malformed line in $rounds dumps" "$bad" 0
check_eq "dumps where a stable counter was missing or out of order" "$missing" 0

# Every reader also sees a consistent count afterwards.
rmdir $CFS/groups/stable/x* $CFS/groups/early/y* 2>/dev/null
for g in $CFS/groups/g*; do [ -d "$g" ] && rmdir $g/a $g/b $g 2>/dev/null; done
cd $CFS/groups/stable && ls | grep '^s' | xargs rmdir; cd /tmp
check "cleanup" rmdir $CFS/groups/stable $CFS/groups/early
check_eq "only the example left in procfs" "$(cut -d' ' -f1 $PROC | sort -u | tr '\n' ' ')" "kpeek_example "
check_eq "debugfs groups" "$(stat_get groups)" 1

# 68-nl-dump: a dump of 5,000+ counters spans many messages and datagrams, is complete and in
# order, equals /proc/kpeek; counters created between two recv() calls mark it NLM_F_DUMP_INTR.
. /kpeek/guest/lib.sh
. /kpeek/guest/nl-lib.sh

N=5000
nltest create nlbig >/dev/null || fail "create nlbig" "failed"
t0=$(date +%s)
check "create $N counters over netlink" nltest create-many nlbig $N c
echo "    ($N creates in $(($(date +%s) - t0)) s)"
check_eq "procfs has them" "$(grep -c '^nlbig ' $PROC)" $N

for buf in 32768 4096; do
	nltest dump -c -b $buf >/tmp/nl.dump 2>/tmp/nl.err
	check_eq "dump (recv buffer $buf): complete, ordered, no NLM_F_DUMP_INTR" $? 0
	cat /tmp/nl.err
	check_eq "dump (recv buffer $buf) equals /proc/kpeek" "$(md5sum </tmp/nl.dump)" "$(md5sum <$PROC)"
	check_eq "dump (recv buffer $buf) records" "$(grep -c '^nlbig ' /tmp/nl.dump)" $N
	dg=$(sed -n 's/.* in \([0-9]*\) datagrams.*/\1/p' /tmp/nl.err)
	check "dump (recv buffer $buf) spans many datagrams ($dg)" test "$dg" -ge $((N * 80 / buf))
done
as_user nltest dump -c >/tmp/nl.dump.user 2>/dev/null
check_eq "non-root dump of $N equals /proc/kpeek" "$(md5sum </tmp/nl.dump.user)" "$(md5sum <$PROC)"
check_eq "dump -g nlbig: only its counters" "$(nltest dump -g nlbig 2>/dev/null | grep -vc '^nlbig ')" 0

# Counters created after the first datagram: the dump must say it was interrupted.
nltest dump-intr nlbig 20 2>/tmp/nl.err
check_eq "counters created mid-dump: NLM_F_DUMP_INTR" $? 0
cat /tmp/nl.err
check_eq "the created counters exist" "$(grep -c '^nlbig i' $PROC)" 20
# With nothing changing, the same dump is consistent again.
nltest dump -c -b 4096 >/dev/null 2>&1
check_eq "unchanged again: no NLM_F_DUMP_INTR" $? 0

# Dumps racing creates and destroys (configfs, in a loop): every dump completes, in order.
(
	mkdir $CFS/groups/nlrace
	i=0
	while [ $i -lt 150 ]; do mkdir $CFS/groups/nlrace/c$i; rmdir $CFS/groups/nlrace/c$i; i=$((i + 1)); done
	rmdir $CFS/groups/nlrace
) &
race=$!
ok=0 n=0 intr=0
while kill -0 $race 2>/dev/null && [ $n -lt 40 ]; do
	nltest dump -b 4096 >/dev/null 2>/tmp/nl.err && ok=$((ok + 1))
	grep -q 'intr [1-9]' /tmp/nl.err && intr=$((intr + 1))
	n=$((n + 1))
done
wait $race
check "dumps ran while the racer did ($n)" test $n -ge 1
check_eq "dumps racing create/destroy: all complete and ordered ($intr of $n marked interrupted)" $ok $n

# A dump in progress pins kpeek.ko: rmmod between two datagrams is refused, the dump completes.
rmmod kpeek_example
nltest dump -b 4096 -x 'rmmod kpeek 2>/tmp/nl.rmmod' >/tmp/nl.dump 2>/tmp/nl.err
check_eq "dump with an rmmod attempt in the middle completes" $? 0
check "rmmod mid-dump refused: $(cat /tmp/nl.rmmod)" grep -q 'mid-dump command exited 1' /tmp/nl.err
check_eq "still loaded" "$(grep -c '^kpeek ' /proc/modules)" 1
check_eq "that dump has every counter" "$(grep -c '^nlbig ' /tmp/nl.dump)" $((N + 20))
insmod $KO/kpeek_example.ko

# Thresholds on every counter: set, checked by the worker, all dropped with the group below.
check_eq "threshold on all $((N + 20)) counters" "$(nltest threshold-group nlbig 1000)" $((N + 20))
check_eq "one of them shows it" "$(nl_field "$(nltest get nlbig c4999)" threshold)" 1000
sleep 0.3

gen0=$(stat_get generation)
gid=$(nl_field "$(nltest get nlbig c0000)" group_id)
t0=$(date +%s)
check "destroy the group of $((N + 20))" nltest destroy $gid
echo "    (destroy in $(($(date +%s) - t0)) s)"
check_eq "generation counts every removal" "$(stat_get generation)" $((gen0 + N + 20 + 1))
check_eq "procfs is empty of it" "$(grep -c '^nlbig ' $PROC)" 0

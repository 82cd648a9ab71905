# 69-nl-events: the multicast group "events": created/removed notifications from every source
# (netlink, configfs, ioctl-less module API), threshold crossings once per upward crossing,
# non-root listeners, and unloading with a listener attached.
. /kpeek/guest/lib.sh
. /kpeek/guest/nl-lib.sh

ev=/tmp/nl.events
# netlink and configfs sources, in order.
nl_listen_start $ev 8 10000
gid=$(nltest create nle)
cid=$(nltest create nle c1)
mkdir $CFS/groups/nlecfs && mkdir $CFS/groups/nlecfs/k
rmdir $CFS/groups/nlecfs/k $CFS/groups/nlecfs
nltest destroy $gid >/dev/null
nl_listen_wait
check_eq "8 events from netlink and configfs" $? 0
got=$(grep -v '^listening$' $ev | sed 's/ *value=[0-9]*//' )
want="event=group_created group_id=$gid group=nle
event=counter_created id=$cid group_id=$gid group=nle counter=c1
event=group_created group_id=GCFS group=nlecfs
event=counter_created id=CCFS group_id=GCFS group=nlecfs counter=k
event=counter_removed id=CCFS group_id=GCFS group=nlecfs counter=k
event=group_removed group_id=GCFS group=nlecfs
event=counter_removed id=$cid group_id=$gid group=nle counter=c1
event=group_removed group_id=$gid group=nle"
gcfs=$(grep 'group=nlecfs' $ev | head -1 | tr ' ' '\n' | sed -n 's/^group_id=//p')
ccfs=$(grep 'counter=k' $ev | head -1 | tr ' ' '\n' | sed -n 's/^id=//p')
want=$(echo "$want" | sed "s/GCFS/$gcfs/g; s/CCFS/$ccfs/g")
check_eq "events in order with ids and names" "$got" "$want"

# The module API source, heard by a non-root listener: kpeek_example has 4 counters.
nl_listen_start $ev 10 10000 as_user
rmmod kpeek_example
insmod $KO/kpeek_example.ko
nl_listen_wait
check_eq "non-root listener: 10 events from a module reload" $? 0
check_eq "module reload: removed 4 counters, then the group" \
	"$(grep -v '^listening' $ev | head -5 | sed 's/^event=\([a-z_]*\).*/\1/' | tr '\n' ' ')" \
	"counter_removed counter_removed counter_removed counter_removed group_removed "
check_eq "module reload: group, then 4 counters" \
	"$(grep -v '^listening' $ev | tail -5 | sed 's/^event=\([a-z_]*\).*/\1/' | tr '\n' ' ')" \
	"group_created counter_created counter_created counter_created counter_created "

# Thresholds: a configfs counter whose value we set; one event per upward crossing.
mkdir $CFS/groups/nlthr && mkdir $CFS/groups/nlthr/v
tid=$(nl_field "$(nltest get nlthr v)" id)
check "set threshold 100" nltest threshold $tid 100
nl_listen_start $ev 2 5000
echo 150 >$CFS/groups/nlthr/v/value
sleep 0.4
echo 250 >$CFS/groups/nlthr/v/value	# still above: no second event
sleep 0.4
echo 0 >$CFS/groups/nlthr/v/value	# re-arms
sleep 0.4
echo 100 >$CFS/groups/nlthr/v/value	# >= threshold: crosses again
nl_listen_wait
check_eq "two crossings, two threshold events" $? 0
check_eq "threshold events" "$(grep '^event=threshold' $ev | sed 's/.* value=\([0-9]*\) threshold=\([0-9]*\)/\1:\2/' | tr '\n' ' ')" "150:100 100:100 "
check "threshold event names the counter" grep -q "^event=threshold id=$tid .*group=nlthr counter=v" $ev
nl_listen_start $ev 1 600
echo 300 >$CFS/groups/nlthr/v/value
nl_listen_wait
check_eq "no event while staying above" $? 1

# A threshold on a module counter driven by a workload, latency documented as <= 100 ms + work.
wid=$(nl_field "$(nltest get kpeek_example writes)" id)
check "threshold on kpeek_example/writes" nltest threshold $wid 5
nl_listen_start $ev 1 3000
dd if=/dev/zero of=/dev/kpeek_example bs=1 count=6 2>/dev/null
nl_listen_wait
check_eq "workload crossing notified" $? 0
check "with value >= 5" sh -c "grep -q 'counter=writes value=[5-9] threshold=5' $ev"

# A removed counter takes its threshold with it (no event, no use after free).
nl_listen_start $ev 1 3000
rmdir $CFS/groups/nlthr/v
nl_listen_wait
check "removal of a counter with a threshold notified" grep -q "^event=counter_removed id=$tid" $ev
rmdir $CFS/groups/nlthr

# Unload with a listener attached: allowed (netlink does not pin the module) and safe.
nl_listen_start $ev 1000 3000
check "rmmod kpeek with a listener" sh -c "rmmod kpeek_example && rmmod kpeek"
nl_listen_wait
check "listener saw the group removal before the family went" grep -q "^event=group_removed .*group=kpeek_example" $ev
check "reload after" load_all
check "family back" sh -c 'nltest family | grep -q "events=[1-9]"'

# 20 load/unload cycles, each with a dump, a user group, a threshold being checked and a
# listener still attached at rmmod: nothing leaks (Slab), nothing complains (dmesg, by suite.sh).
unload_all
sync
echo 3 >/proc/sys/vm/drop_caches
slab0=$(mem_kb Slab)
i=0 bad=0
while [ $i -lt 20 ]; do
	insmod $KO/kpeek.ko || bad=$((bad + 1))
	nltest listen 1000 5000 >/dev/null 2>&1 &
	lp=$!
	nltest create nlcycle$i >/dev/null || bad=$((bad + 1))
	c=$(nltest create nlcycle$i x) || bad=$((bad + 1))
	nltest threshold "$c" 1 || bad=$((bad + 1))
	nltest dump >/dev/null 2>&1 || bad=$((bad + 1))
	sleep 0.15
	rmmod kpeek || bad=$((bad + 1))
	kill $lp 2>/dev/null
	wait $lp 2>/dev/null
	i=$((i + 1))
done
check_eq "20 cycles with listener, threshold and dump: every step worked" $bad 0
sync
echo 3 >/proc/sys/vm/drop_caches
slab1=$(mem_kb Slab)
if [ $((slab1 - slab0)) -lt 512 ]; then pass "no slab growth over 20 netlink cycles (${slab0} -> ${slab1} kB)"; else
	fail "netlink cycles leak" "Slab ${slab0} -> ${slab1} kB"; fi
check "reload after the cycles" load_all

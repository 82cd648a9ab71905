# 72-mod-listen: `kpeek mod listen` prints the netlink "events" notifications: groups and
# counters created and removed (configfs and ioctl/netlink sources), threshold crossings set with
# `kpeek mod threshold`; a non-root listener hears them too; non-root cannot set thresholds.
. /kpeek/guest/lib.sh

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }

# start_listen OUT ERR CMD...: CMD (a `kpeek mod listen`) in the background, listening; l_pid
start_listen() {
	o_=$1 e_=$2
	shift 2
	start_bg "$o_" "$e_" "^kpeek: listening" "$@"
	rc_=$?
	l_pid=$bg_pid
	return $rc_
}

if start_listen /tmp/l.out /tmp/l.err kpeek mod listen --count 4 --duration 30s; then
	kpeek mod group create app72 >/dev/null
	kpeek mod counter create app72 c >/dev/null
	kpeek mod group delete app72 >/dev/null
	wait $l_pid
	check_eq "listen exits 0 after 4 events" $? 0
	check_eq "created and removed, in order" "$(sed 's/ id=.*//; s/ group_id=.*//' /tmp/l.out)" \
"group_created app72
counter_created app72/c
counter_removed app72/c
group_removed app72"
	gid=$(sed -n 's/^group_created app72 group_id=\([0-9]*\)$/\1/p' /tmp/l.out)
	check "counter events carry the counter id and the group id" \
		grep -q "^counter_created app72/c id=[0-9]* group_id=$gid$" /tmp/l.out
fi

# JSON, as a non-root listener.
if start_listen /tmp/l.out /tmp/l.err as_user kpeek mod listen --json --count 2 --duration 30s; then
	kpeek mod group create app72u >/dev/null
	kpeek mod group delete app72u >/dev/null
	wait $l_pid
	check_eq "user listener: JSON events" "$(sed 's/,"group_id":[0-9]*}$/}/' /tmp/l.out)" \
'{"event":"group_created","group":"app72u"}
{"event":"group_removed","group":"app72u"}'
fi

# Thresholds: one event per upward crossing.
kpeek mod group create thr72 >/dev/null && kpeek mod counter create thr72 v >/dev/null
check "threshold set thr72/v 100" kpeek mod threshold set thr72 v 100
out=$(as_user kpeek mod threshold set thr72 v 5 2>&1)
case "$?:$out" in
2:*"needs root"*) pass "user: threshold set refused, says root" ;;
*) fail "user: threshold set refused, says root" "$out" ;;
esac
if start_listen /tmp/l.out /tmp/l.err kpeek mod listen --count 1 --duration 30s; then
	t0=$(date +%s)
	kpeek mod counter set thr72 v 150
	wait $l_pid
	rc=$?
	if grep -q "^threshold thr72/v id=[0-9]* .*value=150 threshold=100$" /tmp/l.out; then
		pass "threshold event: thr72/v value 150 >= 100"
	else
		fail "threshold event: thr72/v value 150 >= 100" "listen exited $rc after $(($(date +%s) - t0))s; out: '$(cat /tmp/l.out)' err: '$(cat /tmp/l.err | tr '\n' ' ')' /proc/kpeek: '$(grep '^thr72 ' $PROC)'"
	fi
fi
check "threshold clear" kpeek mod threshold clear thr72 v
out=$(kpeek mod threshold set thr72 nope 5 2>&1)
case "$?:$out" in
2:*"no such group, counter or id"*) pass "threshold on an absent counter: exit 2, says so" ;;
*) fail "threshold on an absent counter: exit 2, says so" "$out" ;;
esac
kpeek mod group delete thr72 >/dev/null

# 88-nl-thr-removal: a threshold crossing is notified even when the counter is removed before
# the threshold worker's next check (every 100 ms). Each cycle sets the value over the threshold
# and removes the counter at once through configfs (shell builtins, microseconds apart), so the
# removal nearly always comes first: the event must come from the removal's last check, once,
# before counter_removed.
. /kpeek/guest/lib.sh

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }

N=10
want=
i=0
while [ $i -lt $N ]; do
	want="${want}group_created g88_$i
counter_created g88_$i/c
threshold g88_$i/c value=150 threshold=100
counter_removed g88_$i/c
group_removed g88_$i
"
	i=$((i + 1))
done

if start_bg /tmp/l88.out /tmp/l88.err "^kpeek: listening" \
	kpeek mod listen --count $((N * 5)) --duration 60s; then
	l_pid=$bg_pid
	i=0
	while [ $i -lt $N ]; do
		g=$CFS/groups/g88_$i
		mkdir $g && mkdir $g/c || fail "cycle $i: configfs mkdir" "failed"
		out=$(kpeek mod threshold set g88_$i c 100 2>&1) ||
			fail "cycle $i: threshold set g88_$i/c 100" "$out"
		echo 150 >$g/c/value && rmdir $g/c && rmdir $g ||
			fail "cycle $i: set 150 and remove at once" "failed"
		i=$((i + 1))
	done
	wait $l_pid
	rc=$?
	got=$(sed 's/ id=[0-9]*//; s/ group_id=[0-9]*//' /tmp/l88.out)
	check_eq "listen exits 0 (after $((N * 5)) events or 60 s)" $rc 0
	check_eq "$N removals right after a crossing: one threshold event each, before the removal" \
		"$got" "$(printf '%s' "$want")"
	if grep -qv "^kpeek: listening" /tmp/l88.err; then
		grep -v "^kpeek: listening" /tmp/l88.err | sed 's/^/  listen stderr: /'
	fi
fi

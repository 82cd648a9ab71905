# 50-mod-counters: after a known workload on kpeek_example (7 writes of 100 bytes, 5 reads of 64
# bytes), `kpeek mod counters --via X --json` prints the exact values on every channel, the
# channels agree with each other, and `kpeek mod debug` / `kpeek mod info` report the state.
. /kpeek/guest/lib.sh

for b in kpeek kpeek-guest; do
	command -v $b >/dev/null || { fail "/bin/$b present" "missing: did the static Rust build fail?"; exit 1; }
done

# Earlier scripts may have left state behind: count relative to what is there now.
g0=$(stat_get groups) c0=$(stat_get counters) cfg0=$(stat_get configfs_groups)

check "kpeek mod group reset kpeek_example" kpeek mod group reset kpeek_example
check_eq "reset zeroed every example counter" "$(kpeek mod counters --group kpeek_example --json)" \
'{"group":"kpeek_example","counter":"bytes_read","value":0}
{"group":"kpeek_example","counter":"bytes_written","value":0}
{"group":"kpeek_example","counter":"reads","value":0}
{"group":"kpeek_example","counter":"writes","value":0}'
dd if=/dev/zero of=/dev/kpeek_example bs=100 count=7 2>/dev/null
dd if=/dev/kpeek_example of=/dev/null bs=64 count=5 2>/dev/null

want='{"group":"kpeek_example","counter":"bytes_read","value":320}
{"group":"kpeek_example","counter":"bytes_written","value":700}
{"group":"kpeek_example","counter":"reads","value":5}
{"group":"kpeek_example","counter":"writes","value":7}'
for via in procfs sysfs; do
	check_eq "--via $via --json: exact values after 7 writes, 5 reads" \
		"$(kpeek mod counters --via $via --group kpeek_example --json)" "$want"
done
if out=$(kpeek mod counters --via configfs --json 2>&1); then
	case "$out" in
	*kpeek_example*) fail "configfs does not show module-owned groups" "$out" ;;
	*) pass "configfs does not show module-owned groups" ;;
	esac
else
	fail "configfs does not show module-owned groups" "kpeek failed: $out"
fi

# A configfs group with known values, seen the same way by all three channels.
check "group create app50" kpeek mod group create app50 --description "suite 50"
check "counter create app50/hits" kpeek mod counter create app50 hits
check "counter create app50/misses" kpeek mod counter create app50 misses
check "counter set app50/hits 42" kpeek mod counter set app50 hits 42
check "counter set app50/misses 2^64-1" kpeek mod counter set app50 misses 18446744073709551615
want='{"group":"app50","counter":"hits","value":42}
{"group":"app50","counter":"misses","value":18446744073709551615}'
for via in procfs sysfs configfs; do
	check_eq "--via $via --json: app50" "$(kpeek mod counters --via $via --group app50 --json)" "$want"
done
check_eq "text table" "$(kpeek mod counters --via sysfs --group app50)" \
"GROUP  COUNTER                 VALUE
app50  hits                       42
app50  misses   18446744073709551615"

glist=$(kpeek mod group list)
check_eq "group list: app50 is a configfs group with 2 counters" \
	"$(echo "$glist" | grep '^app50 ' | tr -s ' ')" "app50 configfs 2 suite 50"
check_eq "group list: kpeek_example is a module's group with 4 counters" \
	"$(echo "$glist" | grep '^kpeek_example ' | tr -s ' ')" "kpeek_example module 4"

# Every channel against every other, plus debugfs counts, with exact expectations.
out=$(kpeek-guest channels-agree --expect kpeek_example/writes=7 --expect kpeek_example/reads=5 \
	--expect kpeek_example/bytes_written=700 --expect kpeek_example/bytes_read=320 \
	--expect app50/hits=42 --expect app50/misses=18446744073709551615 2>&1)
echo "$out" | grep -E '^(PASS|FAIL): ' | sed -E 's/^(PASS|FAIL): /&channels-agree: /'
echo "$out" | grep -q '^PASS: ' || fail "channels-agree" "no result: $(echo "$out" | tail -2 | tr '\n' ' ')"

# One more write: every channel moves together.
dd if=/dev/zero of=/dev/kpeek_example bs=1 count=1 2>/dev/null
check_eq "one more 1-byte write: procfs" "$(proc_value kpeek_example bytes_written)" 701
check_eq "one more 1-byte write: sysfs" "$(cat $SYS/kpeek_example/writes)" 8

expect_code() { # NAME CODE TEXT CMD...: CMD exits CODE, stderr contains TEXT
	name=$1 code=$2 text=$3
	shift 3
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$code" ] && echo "$err" | grep -qF -- "$text"; then pass "$name"; else
		fail "$name" "'$*' exited $rc with '$(echo "$err" | tail -1)', want $code and '$text'"; fi
}
expect_code "--group of an absent group: exit 1" 1 'no counters in group "nope"' \
	kpeek mod counters --group nope
expect_code "--group with a bad name: exit 2" 2 "may only contain [A-Za-z0-9_]" \
	kpeek mod counters --group no-pe

dbg=$(kpeek mod debug --json)
for kv in "\"groups\":$((g0 + 1))," "\"counters\":$((c0 + 2))," "\"configfs_groups\":$((cfg0 + 1))," \
	'"max_groups":1024'; do
	case "$dbg" in *"$kv"*) pass "mod debug --json has $kv" ;; *) fail "mod debug --json has $kv" "$dbg" ;; esac
done
check_eq "mod debug text: groups line" "$(kpeek mod debug | grep '^groups ' | tr -s ' ')" "groups $((g0 + 1))"
info=$(kpeek mod info --json)
for kv in "\"abi_version\":$(cat $SYS/info)," "\"groups\":$((g0 + 1))," "\"counters\":$((c0 + 2))," \
	"\"configfs_groups\":$((cfg0 + 1))," '"max_counters":65536'; do
	case "$info" in *"$kv"*) pass "mod info --json has $kv" ;; *) fail "mod info --json has $kv" "$info" ;; esac
done
check "group delete app50 (with its counters)" kpeek mod group delete app50
check "app50 gone from sysfs" test ! -e $SYS/app50
check "app50 gone from configfs" test ! -e $CFS/groups/app50

# 52-mod-procfs: /proc/kpeek with 10,000 counters (many pages) is complete and in creation order
# for every read size and after lseek; readers of every channel against concurrent
# create/destroy through configfs see only whole lines, stable counters complete and in order.
. /kpeek/guest/lib.sh

command -v kpeek-guest >/dev/null || { fail "/bin/kpeek-guest present" "missing: did the static Rust build fail?"; exit 1; }

g0=$(stat_get groups) c0=$(stat_get counters)
kpeek-guest procfs-many --groups 100 --per-group 100 2>&1 | grep -E '^(PASS|FAIL): |^kpeek-guest: ' |
	sed -E 's/^(PASS|FAIL): /&procfs-many: /'
kpeek-guest procfs-stress --seconds 8 --readers 2 2>&1 | grep -E '^(PASS|FAIL): |^kpeek-guest: ' |
	sed -E 's/^(PASS|FAIL): /&procfs-stress: /'
check_eq "no leftover groups (debugfs)" "$(stat_get groups)" "$g0"
check_eq "no leftover counters (debugfs)" "$(stat_get counters)" "$c0"

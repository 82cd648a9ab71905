# 90-monitor-bench: the monitor over 10,000 kpeek.ko counters at 10 Hz through mmap: every
# counter shown with the value written (no reset, rate 0), and its cost per refresh (source
# read, model and rates, screen) against the bare mmap read of the same counters, in the same
# run (INFO lines: medians and the ratio, goal at most 2x).
. /kpeek/guest/lib.sh

command -v kpeek-guest >/dev/null || { fail "/bin/kpeek-guest present" "missing: did the static Rust build fail?"; exit 1; }
[ -c /dev/kpeek ] || { fail "/dev/kpeek present" "no character device"; exit 1; }

kpeek-guest monitor-bench --counters 10000 --hz 10 --rounds 100

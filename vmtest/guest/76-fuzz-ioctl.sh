# 76-fuzz-ioctl: >= 100,000 random ioctls (plus reads, lseeks and mmaps) on /dev/kpeek as root,
# then as an unprivileged user (the device opened to everybody for the run, as a udev rule
# could), then with a root-opened fd after dropping privileges: errnos as specified, no oops or
# WARN (suite.sh checks dmesg), and as non-root every mutation refused with EPERM and nothing
# changed. Seeds are printed: `kpeek-guest fuzz-ioctl --seed N` replays a run.
. /kpeek/guest/lib.sh

command -v kpeek-guest >/dev/null || { fail "/bin/kpeek-guest present" "missing: did the static Rust build fail?"; exit 1; }
[ -c /dev/kpeek ] || { fail "/dev/kpeek present" "no character device"; exit 1; }

kpeek-guest fuzz-ioctl --calls 100000 || rc=1

# The state as root sees it, before and after the non-root runs.
state() { cat $PROC; stat_get generation; stat_get groups; stat_get counters; }
before=$(state)
mode=$(stat -c %a /dev/kpeek)
chmod 0666 /dev/kpeek
as_user kpeek-guest fuzz-ioctl --calls 100000 || rc=1
chmod "$mode" /dev/kpeek
kpeek-guest fuzz-ioctl --calls 20000 --drop-uid $USER_UID || rc=1
after=$(state)
check_eq "non-root ioctl fuzzing changed nothing (procfs, debugfs generation and counts)" \
	"$(echo "$after" | grep -v '^kpeek_probes ')" "$(echo "$before" | grep -v '^kpeek_probes ')"
check_eq "/dev/kpeek mode restored" "$(stat -c %a /dev/kpeek)" "$mode"
exit ${rc:-0}

# 77-fuzz-netlink: >= 100,000 random generic netlink messages to the kpeek family (random
# commands, flags, attributes, nesting, truncations) as root, then as an unprivileged user, then
# from a root-opened socket after dropping privileges: errnos plausible, no oops or WARN
# (suite.sh checks dmesg), and as non-root every mutation refused (EPERM when well-formed) and
# nothing changed. Seeds are printed: `kpeek-guest fuzz-netlink --seed N` replays a run.
. /kpeek/guest/lib.sh

command -v kpeek-guest >/dev/null || { fail "/bin/kpeek-guest present" "missing: did the static Rust build fail?"; exit 1; }

kpeek-guest fuzz-netlink --calls 100000 || rc=1

state() { cat $PROC; stat_get generation; stat_get groups; stat_get counters; }
before=$(state)
mode=$(stat -c %a /dev/kpeek)
# Readable for the run, so that the fuzzer also compares the probe configuration.
chmod 0644 /dev/kpeek
as_user kpeek-guest fuzz-netlink --calls 100000 || rc=1
chmod "$mode" /dev/kpeek
kpeek-guest fuzz-netlink --calls 20000 --drop-uid $USER_UID || rc=1
after=$(state)
check_eq "non-root netlink fuzzing changed nothing (procfs, debugfs generation and counts)" \
	"$(echo "$after" | grep -v '^kpeek_probes ')" "$(echo "$before" | grep -v '^kpeek_probes ')"
exit ${rc:-0}

# doc-state.sh - the state each ```console guest block of README.md and docs/ starts from
# (vmtest/guest/92-docs.sh runs it before every block): kpeek.ko and kpeek_example.ko freshly
# loaded with default parameters and no other module using kpeek.ko, configfs and debugfs
# mounted, the loopback interface up, then 7 writes of 100 bytes and 5 reads of 64 bytes on
# /dev/kpeek_example.
. /kpeek/guest/lib.sh

# Whatever uses kpeek.ko goes first (the "used by" column of /proc/modules).
for m in $(awk '$1 == "kpeek" { gsub(",", " ", $4); print $4 }' /proc/modules | tr -d -); do
	rmmod "$m" || { echo "doc-state: rmmod $m failed"; exit 1; }
done
# A configfs group holds kpeek.ko (rmmod: EAGAIN): remove the groups an example left.
for g in $CFS/groups/*; do
	[ -d "$g" ] || continue
	for c in "$g"/*; do [ -d "$c" ] && rmdir "$c"; done
	rmdir "$g" || { echo "doc-state: rmdir $g failed"; exit 1; }
done
if loaded kpeek; then rmmod kpeek || { echo "doc-state: rmmod kpeek failed"; exit 1; }; fi
grep -q ' /sys/kernel/config configfs ' /proc/mounts || mount -t configfs none /sys/kernel/config ||
	{ echo "doc-state: cannot mount configfs"; exit 1; }
grep -q ' /sys/kernel/debug debugfs ' /proc/mounts || mount -t debugfs none /sys/kernel/debug ||
	{ echo "doc-state: cannot mount debugfs"; exit 1; }
ip link set lo up || { echo "doc-state: ip link set lo up failed"; exit 1; }
insmod $KO/kpeek.ko && insmod $KO/kpeek_example.ko || { echo "doc-state: insmod failed"; exit 1; }
dd if=/dev/zero of=/dev/kpeek_example bs=100 count=7 2>/dev/null &&
	dd if=/dev/kpeek_example of=/dev/null bs=64 count=5 2>/dev/null ||
	{ echo "doc-state: the workload on /dev/kpeek_example failed"; exit 1; }

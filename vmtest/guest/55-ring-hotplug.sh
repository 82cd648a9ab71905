# 55-ring-hotplug: rings exist for online CPUs only and follow CPU hotplug: with CPU 1 offline at
# RING_SETUP its ring does not exist (mmap: ENXIO) while CPU 0's records flow; onlining CPU 1
# allocates its ring (CPUHP_BP_PREPARE_DYN) and records flow there; offlining it again keeps the
# ring and its unread records; onlining it again reuses that ring.
. /kpeek/guest/lib.sh

ip link set lo up || fail "lo up" "ip link set lo up failed"
if [ ! -w /sys/devices/system/cpu/cpu1/online ]; then
	fail "CPU 1 hotplug" "no writable /sys/devices/system/cpu/cpu1/online (guest CPUs: $(nproc)); this test needs -smp 2 or more"
	exit 1
fi
kpeekdev ring-hotplug
check_eq "CPU 1 online after the test" "$(cat /sys/devices/system/cpu/cpu1/online)" 1
# The probes this test enabled made the kpeek_probes group: a fresh load for the next tests.
check "rmmod after the test" unload_all
load_all

# 79-block-probe: the block_rq_issue probe on a real blk-mq disk (null_blk, memory-backed,
# from the same image package). O_DIRECT reads and writes of known sizes and offsets give
# exactly one ring record each, with the device number, sector, byte count and rwbs that the
# kernel's own block:block_rq_issue trace event shows for the same requests, and its pid;
# the min_len and pid filters; the hits and matched counters.
. /kpeek/guest/lib.sh

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }
grep -q '/null_blk.ko:' /lib/modules/$(uname -r)/modules.dep ||
	{ fail "null_blk.ko in modules.dep" "missing (vmtest/run takes it from the image package)"; exit 1; }
kpeek mod probe disable block_rq_issue >/dev/null 2>&1

# irqmode=0: requests complete inline in the submitter's context; no partitions to scan.
check "modprobe null_blk (blk-mq, 1 GiB, 4 KiB blocks)" \
	modprobe null_blk queue_mode=2 gb=1 bs=4096 nr_devices=1 irqmode=0
i=0
while [ ! -b /dev/nullb0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/nullb0 ] || { fail "/dev/nullb0 appears" "no block device after insmod"; exit 1; }
devno=$(cat /sys/block/nullb0/dev)

# The kernel's own view of the same requests, through tracefs.
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs tracefs $T
[ -d $T/events/block/block_rq_issue ] || { fail "tracefs block:block_rq_issue" "missing"; exit 1; }
echo 0 >$T/tracing_on
echo >$T/trace
echo 1 >$T/events/block/block_rq_issue/enable
echo 1 >$T/tracing_on

hits0=$(proc_value kpeek_probes block_rq_issue_hits)
hits0=${hits0:-0} # the kpeek_probes group appears with the first enable
# 8 reads of 4 KiB from block 16 (sectors 128..184), 3 writes of 8 KiB from 8 KiB block 4
# (sectors 64, 80, 96): 11 requests.
if start_events /tmp/blk.out /tmp/blk.err --probe block_rq_issue --count 11 --duration 60s; then
	dd if=/dev/nullb0 of=/dev/null bs=4096 count=8 skip=16 iflag=direct 2>/dev/null
	dd if=/dev/zero of=/dev/nullb0 bs=8192 count=3 seek=4 oflag=direct 2>/dev/null
	wait $ev_pid
	check_eq "events exits 0 after 11 records" $? 0
	echo 0 >$T/tracing_on
	echo 0 >$T/events/block/block_rq_issue/enable

	# "M,m RWBS BYTES SECTOR PID" per request, from both (the kernel's line starts with
	# COMM-PID; the issuing task may be dd or a kworker that runs the queue).
	sed -n 's/.*{ pid = \(-\{0,1\}[0-9]*\) }, { dev = "\([0-9]*\):\([0-9]*\)", sector = \([0-9]*\), bytes = \([0-9]*\), rwbs = "\([A-Z]*\)" }$/\2,\3 \6 \5 \4 \1/p' \
		/tmp/blk.out | sort >/tmp/blk.kpeek
	sed -n 's/^ *.*-\([0-9][0-9]*\) *\[[0-9]*\].*block_rq_issue: /\1 /p' $T/trace |
		awk '{ print $2, $3, $4, $6, $1 }' | sort >/tmp/blk.kernel
	check_eq "11 records" "$(wc -l </tmp/blk.kpeek)" 11
	check_eq "the kernel's trace event saw the same 11 requests" "$(wc -l </tmp/blk.kernel)" 11
	check_eq "every record: device, rwbs, bytes, sector and pid as the kernel's trace event" \
		"$(cat /tmp/blk.kpeek)" "$(cat /tmp/blk.kernel)"
	check_eq "reads: 8 of 4096 bytes at sectors 128..184, writes: 3 of 8192 at 64, 80, 96" \
		"$(awk '{ print $3, $4 }' /tmp/blk.kpeek | sort -n -k2 | tr '\n' ' ')" \
		"8192 64 8192 80 8192 96 4096 128 4096 136 4096 144 4096 152 4096 160 4096 168 4096 176 4096 184 "
	check_eq "device number is /dev/nullb0's" \
		"$(cut -d' ' -f1 /tmp/blk.kpeek | sort -u)" "$(echo $devno | tr : ,)"
	check_eq "reads are R, writes start with W" \
		"$(awk '{ print substr($2, 1, 1), $3 }' /tmp/blk.kpeek | sort -u | tr '\n' ' ')" "R 4096 W 8192 "
	check "summary: 11 printed, nothing lost" grep -q "^kpeek: 11 events printed, [0-9]* read; lost: 0 (seq gaps), 0 (rings' lost counters since start)$" /tmp/blk.err
	check_eq "block_rq_issue_hits grew by 11" "$(($(proc_value kpeek_probes block_rq_issue_hits) - hits0))" 11
	sed -n 1,2p /tmp/blk.out | sed 's/^/    | /'
fi
echo 0 >$T/events/block/block_rq_issue/enable

# min_len=8192: the 4 KiB reads are filtered out, the 8 KiB writes pass.
if start_events /tmp/blk.out /tmp/blk.err --probe block_rq_issue --filter min_len=8192 --count 2 --duration 60s; then
	dd if=/dev/nullb0 of=/dev/null bs=4096 count=4 iflag=direct 2>/dev/null
	dd if=/dev/zero of=/dev/nullb0 bs=8192 count=2 oflag=direct 2>/dev/null
	wait $ev_pid
	check_eq "min_len=8192: only the 2 writes" \
		"$(sed 's/.*bytes = \([0-9]*\).*/\1/' /tmp/blk.out | tr '\n' ' ')" "8192 8192 "
fi

# pid=1 (init does no I/O): nothing from dd; matched stands still while hits grows.
m0=$(proc_value kpeek_probes block_rq_issue_matched)
h0=$(proc_value kpeek_probes block_rq_issue_hits)
if start_events /tmp/blk.out /tmp/blk.err --probe block_rq_issue --filter pid=1 --duration 3s; then
	dd if=/dev/nullb0 of=/dev/null bs=4096 count=5 iflag=direct 2>/dev/null
	wait $ev_pid
	check_eq "pid=1: no records for dd's requests" "$(wc -l </tmp/blk.out)" 0
	check_eq "pid=1: matched unchanged" "$(proc_value kpeek_probes block_rq_issue_matched)" "$m0"
	check_eq "pid=1: hits grew by 5" "$(($(proc_value kpeek_probes block_rq_issue_hits) - h0))" 5
fi

check "probe restored: disabled" sh -c "kpeek mod probe show --json | grep -q '\"enabled\":false,.*\"probe\":\"block_rq_issue\"'"
check "rmmod null_blk" rmmod null_blk

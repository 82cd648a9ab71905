# suite.sh - run every vmtest/guest/[0-9][0-9]-*.sh in order, as root, and tally.
#
# Before each script: kpeek.ko and kpeek_example.ko loaded, dmesg cleared. A script reports with
# PASS:/FAIL: lines; one that exits non-zero without any FAIL line counts as one failure, and so
# does a kernel BUG/WARNING/Oops/Call Trace in dmesg after it.
. /kpeek/guest/lib.sh

KERNEL_COMPLAINT='BUG:|WARNING:|Oops|Call Trace|general protection|kernel BUG'

passed=0
failed=0
# Boot and the first module load, before any test cleared the log.
if dmesg | grep -E "$KERNEL_COMPLAINT" >/tmp/dmesg.bad; then
	echo "FAIL: boot: kernel complained in dmesg before the first test:"
	head -30 /tmp/dmesg.bad | sed 's/^/    dmesg| /'
	failed=1
else
	echo "PASS: boot: clean dmesg after loading configfs, kpeek and kpeek_example"
	passed=1
fi
for t in /kpeek/guest/[0-9][0-9]-*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	load_all || echo "FAIL: $name: could not load the modules before the test"
	dmesg -c >/dev/null
	echo "=== $name"
	start=$(date +%s)
	(cd /tmp && sh "$t") >/tmp/t.out 2>&1
	rc=$?
	cat /tmp/t.out
	p=$(grep -c '^PASS: ' /tmp/t.out)
	f=$(grep -c '^FAIL: ' /tmp/t.out)
	if [ $rc != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL: $name: exited $rc without a FAIL line"
		f=1
	fi
	if [ "$p" = 0 ] && [ "$f" = 0 ]; then
		echo "FAIL: $name: reported nothing"
		f=1
	fi
	if dmesg | grep -E "$KERNEL_COMPLAINT" >/tmp/dmesg.bad; then
		echo "FAIL: $name: kernel complained in dmesg:"
		head -30 /tmp/dmesg.bad | sed 's/^/    dmesg| /'
		f=$((f + 1))
	fi
	echo "--- $name: $p passed, $f failed ($(($(date +%s) - start))s)"
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "KPEEK-SUITE-RESULT: $passed passed, $failed failed"

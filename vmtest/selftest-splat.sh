# vmtest/selftest-splat.sh - a check of vmtest/run's console splat scan, as a --guest-script:
#   vmtest/run --kernel 6.1 --skip-suite --guest-script vmtest/selftest-splat.sh
# must end with "1 failed" and "kernel splat on the console": this script passes and leaves
# dmesg clean, so the console scan is the only thing that can see the line below.
echo '<4>WARNING: CPU: 0 PID: 1 at vmtest/selftest-splat.sh (a test line, not a real warning)' >/dev/kmsg
dmesg -c >/dev/null
exit 0

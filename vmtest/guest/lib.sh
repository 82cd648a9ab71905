# lib.sh - helpers for the guest tests (busybox sh). Source it: `. /kpeek/guest/lib.sh`.
#
# A test prints `PASS: <name>` or `FAIL: <name>: <why>` per check; suite.sh counts them.
# The helpers keep their working variables `local`: a script's own `$out`, `$name`, `$i`... are
# never changed by a call (only `bg_pid` and `ev_pid` are set, as documented below).
# busybox sh cannot read errno, so errno checks match the strerror() text that busybox prints
# (e.g. `sh: write error: Invalid argument`).

KO=/lib/modules/$(uname -r)/extra	# kpeek's modules, installed as a system has them
PROC=/proc/kpeek
SYS=/sys/kernel/kpeek
# KPEEK_ABI_VERSION of kmod/include/uapi/kpeek.h, which vmtest/run copies from there
ABI_VERSION=$(cat /kpeek/abi-version)
CFS=/sys/kernel/config/kpeek
DBG=/sys/kernel/debug/kpeek
PARAMS=/sys/module/kpeek/parameters
USER_UID=1000

# kernel_before MAJOR MINOR: true when the running kernel is older than MAJOR.MINOR (for what a
# kernel cannot do: the test then checks the kernel's behaviour as it is and says so)
kernel_before() {
	kv=$(uname -r | sed 's/^\([0-9]*\)\.\([0-9]*\).*/\1 \2/')
	set -- "$1" "$2" $kv
	[ "$3" -lt "$1" ] || { [ "$3" -eq "$1" ] && [ "$4" -lt "$2" ]; }
}

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }

# check NAME CMD...: passes when CMD succeeds
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "'$*' failed: $(echo "$out" | tail -2 | tr '\n' ' ')"; fi
}

# check_eq NAME GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

# strerror text of an errno name, as busybox prints it
errtext() {
	case "$1" in
	EINVAL) echo "Invalid argument" ;;
	ENAMETOOLONG) echo "File name too long" ;;
	EEXIST) echo "File exists" ;;
	ENOSPC) echo "No space left on device" ;;
	EPERM) echo "Operation not permitted" ;;
	EACCES) echo "Permission denied" ;;
	ENOENT) echo "No such file or directory" ;;
	ENOTEMPTY) echo "Directory not empty" ;;
	ENODEV) echo "No such device" ;;
	EBUSY) echo "Resource busy" ;;
	EAGAIN) echo "Resource temporarily unavailable" ;;
	*) echo "$1" ;;
	esac
}

# expect_err NAME ERRNO CMD...: CMD must fail and print ERRNO's text
expect_err() {
	local name=$1 want out
	want=$(errtext "$2")
	shift 2
	if out=$("$@" 2>&1); then
		fail "$name" "'$*' succeeded, want $2"
	elif echo "$out" | grep -qF "$want"; then
		pass "$name"
	else
		fail "$name" "'$*' failed with '$(echo "$out" | tail -1)', want $2 ($want)"
	fi
}

# write_file FILE TEXT: one write(2) of TEXT (no newline added), errors to stderr
write_file() { sh -c 'echo -n "$2" > "$1"' _ "$1" "$2"; }
# writeln_file FILE TEXT: TEXT plus newline, like `echo TEXT > FILE`
writeln_file() { sh -c 'echo "$2" > "$1"' _ "$1" "$2"; }

# as_user CMD...: run CMD as the unprivileged test user (uid/gid 1000, no groups, no caps)
as_user() { runas $USER_UID "$@"; }

# stat_get KEY: a line of debugfs stats
stat_get() { sed -n "s/^$1 //p" $DBG/stats; }

loaded() { grep -q "^$1 " /proc/modules; }

# load_all / unload_all: bring the modules to a known state
load_all() {
	loaded kpeek || insmod $KO/kpeek.ko || return 1
	loaded kpeek_example || insmod $KO/kpeek_example.ko || return 1
	loaded plain_counter || insmod $KO/plain_counter.ko || return 1
}
unload_all() {
	if loaded kpeek_example; then rmmod kpeek_example || return 1; fi
	if loaded kpeek; then rmmod kpeek || return 1; fi
}

# proc_value GROUP COUNTER: the value /proc/kpeek shows
proc_value() { awk -v g="$1" -v c="$2" '$1 == g && $2 == c { print $3 }' $PROC; }

# names N PREFIX: PREFIX0..PREFIX(N-1), zero-padded to one width so that sort order = creation
# order (busybox seq has no -f)
names() { seq -w 0 $(($1 - 1)) | sed "s/^/$2/"; }

# mem_kb FIELD: a /proc/meminfo field in kB
mem_kb() { awk -v f="$1:" '$1 == f { print $2 }' /proc/meminfo; }

# start_bg OUT ERR READY CMD...: run CMD in the background (stdout to OUT, stderr to ERR) and
# wait until ERR has a line matching the grep pattern READY; bg_pid is CMD's pid
start_bg() {
	local out=$1 err=$2 ready=$3 i=0
	shift 3
	# A stale ERR from the last run would say READY before this one does.
	rm -f $out $err
	"$@" >$out 2>$err &
	bg_pid=$!
	while ! grep -q "$ready" $err 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 $bg_pid 2>/dev/null; then
			fail "$*: started" "$(cat $err)"
			return 1
		fi
		sleep 0.1
	done
}

# start_events OUT ERR ARGS...: `kpeek mod events ARGS` in the background, its probes enabled
# (it says so on stderr); ev_pid is its pid
start_events() {
	local o=$1 e=$2 rc
	shift 2
	start_bg "$o" "$e" "reading the rings" kpeek mod events "$@"
	rc=$?
	ev_pid=$bg_pid
	return $rc
}

# nl-lib.sh - helpers for the netlink tests (6[5-9]-nl-*.sh), on top of lib.sh.

# nl_field "LINE" KEY: the value of key=value in one line of nltest output
nl_field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

# nl_err NAME ERRNO_NAME EXTACK_SUBSTRING CMD...: CMD (an nltest call) must fail with that errno
# and an extended ACK message containing the substring ("" for any or none)
nl_err() {
	name=$1 want=$2 msg=$3
	shift 3
	if out=$("$@" 2>&1); then
		fail "$name" "'$*' succeeded, want $want"
	elif ! echo "$out" | grep -qF "($want)"; then
		fail "$name" "'$*' failed with '$(echo "$out" | tail -1)', want $want"
	elif [ -n "$msg" ] && ! echo "$out" | grep -qF "$msg"; then
		fail "$name" "'$*' failed with $want but extack '$(echo "$out" | tail -1)' lacks '$msg'"
	else
		pass "$name"
	fi
}

# nl_listen_start FILE N TIMEOUT_MS [runas-prefix...]: nltest listen in the background, waits
# until it has joined the group; sets nl_listen_pid
nl_listen_start() {
	f=$1 n=$2 t=$3
	shift 3
	: >"$f"
	"$@" nltest listen "$n" "$t" >"$f" 2>"$f.err" &
	nl_listen_pid=$!
	i=0
	while [ $i -lt 100 ] && ! grep -q '^listening$' "$f"; do sleep 0.05; i=$((i + 1)); done
	grep -q '^listening$' "$f" || fail "listener start" "$(cat "$f.err")"
}

# nl_listen_wait: the listener's exit status (0: it got all its events)
nl_listen_wait() { wait $nl_listen_pid; }

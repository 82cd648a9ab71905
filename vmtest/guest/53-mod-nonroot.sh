# 53-mod-nonroot: as an unprivileged user every `kpeek mod` read works and every change is refused
# with a message that says root is needed (exit 2), and nothing changed.
. /kpeek/guest/lib.sh

command -v kpeek >/dev/null || { fail "/bin/kpeek present" "missing: did the static Rust build fail?"; exit 1; }

expect_code() { # NAME CODE TEXT CMD...: CMD exits CODE, stderr contains TEXT
	name=$1 code=$2 text=$3
	shift 3
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$code" ] && echo "$err" | grep -qF -- "$text"; then pass "$name"; else
		fail "$name" "'$*' exited $rc with '$(echo "$err" | tail -1)', want $code and '$text'"; fi
}

kpeek mod group create own53 >/dev/null && kpeek mod counter create own53 c >/dev/null &&
	kpeek mod counter set own53 c 7 >/dev/null || fail "root setup" "could not create own53/c"
check_eq "the test user is not root" "$(as_user id -u)" "$USER_UID"

for via in procfs sysfs configfs; do
	check_eq "user reads --via $via" "$(as_user kpeek mod counters --via $via --group own53 --json)" \
		'{"group":"own53","counter":"c","value":7}'
done
check "user reads the example via procfs" as_user kpeek mod counters --group kpeek_example
check "user reads mod info" as_user kpeek mod info
root_msg="needs root (CAP_SYS_ADMIN)"
expect_code "user: group create refused" 2 "$root_msg" as_user kpeek mod group create user53
expect_code "user: counter create refused" 2 "$root_msg" as_user kpeek mod counter create own53 d
expect_code "user: counter set refused" 2 "$root_msg" as_user kpeek mod counter set own53 c 1
expect_code "user: counter describe refused" 2 "$root_msg" as_user kpeek mod counter describe own53 c x
expect_code "user: group describe refused" 2 "$root_msg" as_user kpeek mod group describe own53 x
expect_code "user: counter reset refused" 2 "$root_msg" as_user kpeek mod counter reset own53 c
expect_code "user: group reset refused (sysfs)" 2 "$root_msg" as_user kpeek mod group reset kpeek_example
expect_code "user: counter delete refused" 2 "$root_msg" as_user kpeek mod counter delete own53 c
expect_code "user: group delete refused" 2 "$root_msg" as_user kpeek mod group delete own53
expect_code "user: mod debug refused (debugfs is root only)" 2 "debugfs is readable by root only" \
	as_user kpeek mod debug
check_eq "nothing changed" "$(kpeek mod counters --group own53 --json)" '{"group":"own53","counter":"c","value":7}'
check "user53 not created" test ! -e $CFS/groups/user53
check "cleanup" kpeek mod group delete own53

# Run in the qemu guest by packaging/test/run: the kpeek.ko that DKMS built from the kpeek-dkms
# package (vmtest/run --ko) must be the one loaded, and work. @ABI@ and @SHA@ are filled in.
fail=0
pass() { echo "PASS: dkms: $*"; }
bad() { echo "FAIL: dkms: $*"; fail=1; }

[ "$(uname -r)" = "@ABI@" ] && pass "guest kernel $(uname -r)" ||
	bad "guest kernel $(uname -r), modules built for @ABI@"
ko=/lib/modules/$(uname -r)/extra/kpeek.ko
[ "$(sha256sum "$ko" | cut -d' ' -f1)" = "@SHA@" ] &&
	pass "$ko is the DKMS build" || bad "$ko is not the DKMS build"
grep -q '^kpeek ' /proc/modules && pass "kpeek.ko loaded" || bad "kpeek.ko is not loaded"
kpeek doctor --json >/tmp/doctor.json
grep -q '"name":"kpeek.ko","status":"ok"' /tmp/doctor.json &&
	pass "kpeek doctor: kpeek.ko loaded with this kpeek's ABI" ||
	bad "kpeek doctor does not see kpeek.ko with the right ABI: $(cat /tmp/doctor.json)"
kpeek mod group create pkg >/dev/null && kpeek mod counter create pkg hits >/dev/null &&
	kpeek mod counter set pkg hits 5 >/dev/null || bad "kpeek mod: cannot create and set pkg/hits"
want='{"group":"pkg","counter":"hits","value":5}'
for via in procfs mmap netlink; do
	got=$(kpeek mod counters --via $via --group pkg --json)
	[ "$got" = "$want" ] && pass "counters via $via: $got" || bad "counters via $via: '$got', want '$want'"
done
kpeek mod group delete pkg >/dev/null || bad "kpeek mod group delete pkg"
rmmod kpeek_example && rmmod kpeek && pass "rmmod" || bad "rmmod kpeek_example kpeek"
exit $fail

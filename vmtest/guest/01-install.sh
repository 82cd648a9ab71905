# 01-install: the modules are installed as a real system has them: kpeek's under
# /lib/modules/$(uname -r)/extra, indexed by depmod in modules.dep with their dependencies,
# built for the running kernel (vermagic), and modprobe resolves the dependency chain.
. /kpeek/guest/lib.sh

rel=$(uname -r)
dep=/lib/modules/$rel/modules.dep
check "modules.dep exists" test -s $dep
for m in kpeek kpeek_example; do
	check "$m.ko installed in extra/" test -f /lib/modules/$rel/extra/$m.ko
	check_eq "modinfo -n $m (the path modprobe loads)" "$(modinfo -n $m 2>&1)" "/lib/modules/$rel/extra/$m.ko"
	check_eq "$m vermagic is the running kernel's" "$(modinfo -F vermagic $m 2>&1 | cut -d' ' -f1)" "$rel"
done
check_eq "modules.dep: kpeek needs configfs" "$(grep "^extra/kpeek.ko:" $dep)" \
	"extra/kpeek.ko: kernel/fs/configfs/configfs.ko"
check_eq "modules.dep: kpeek_example needs kpeek and configfs" \
	"$(grep "^extra/kpeek_example.ko:" $dep)" \
	"extra/kpeek_example.ko: extra/kpeek.ko kernel/fs/configfs/configfs.ko"
check_eq "modinfo: kpeek depends on configfs" "$(modinfo -F depends kpeek)" configfs
if [ -f /lib/modules/$rel/extra/plain_counter.ko ]; then
	check "modules.dep lists plain_counter" grep -q "^extra/plain_counter.ko:" $dep
fi

# modprobe of the client module alone brings kpeek in; modprobe -r takes both out again.
check "unload kpeek_example and kpeek" unload_all
check "modprobe kpeek_example" modprobe kpeek_example
check "kpeek loaded as kpeek_example's dependency" loaded kpeek
# busybox's modprobe -r also tries kpeek's own dependency configfs, mounted and busy: its exit
# code says so; what counts is that kpeek_example is gone.
modprobe -r kpeek_example >/dev/null 2>&1
check "kpeek_example gone" sh -c '! grep -q "^kpeek_example " /proc/modules'
check "modprobe kpeek_example again" modprobe kpeek_example

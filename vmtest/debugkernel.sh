# vmtest/debugkernel.sh - sourced by vmtest/run: the debug kernel (--kernel debug). Built here from
# Debian's linux-source-6.12 (the newest, resolved at run time with the private apt
# configuration) with `make defconfig` + `kvm_guest.config` + vmtest/debug.config (KASAN,
# lockdep, PROVE_RCU, DEBUG_ATOMIC_SLEEP, DEBUG_OBJECTS, kmemleak, failslab and fail_page_alloc).
#
# Cache (vmtest/.cache):
#   debug/src-VERSION/      the unpacked source
#   debug/VERSION-HASH/obj  the build tree (make O=), kpeek.ko is built against it; HASH is the
#                           first 12 hex digits of sha256(debug.config)
#   ABI/img                 vmlinuz and `make modules_install` (ABI: the kernel's release string)
# Only the newest build is kept. The build runs under `nice -n 15` with -j2 (DEBUG_JOBS overrides).

debug_fragment="$here/debug.config"

# debug_key -> "VERSION-HASH" of the build the current source version and fragment give
debug_key() {
	local ver hash
	ver=$(pkg_version linux-source-6.12)
	[ -n "$ver" ] || { log "apt-cache knows no linux-source-6.12"; return 1; }
	hash=$(sha256sum "$debug_fragment" | cut -c1-12)
	echo "${ver//[:~]/_}-$hash"
}

# debug_configure SRC OBJ LOG: defconfig + kvm_guest.config + debug.config into OBJ/.config, and
# check that every symbol the fragment sets survived Kconfig
debug_configure() {
	local src=$1 obj=$2 blog=$3 line sym want got bad=0
	log "debug kernel: configuring $key (defconfig + kvm_guest.config + debug.config)"
	{
		make -C "$src" O="$obj" defconfig &&
			make -C "$src" O="$obj" kvm_guest.config &&
			(cd "$src" && scripts/kconfig/merge_config.sh -m -O "$obj" "$obj/.config" \
				"$debug_fragment") &&
			make -C "$src" O="$obj" olddefconfig
	} >"$blog" 2>&1 || { log "debug kernel: configuration failed, see $blog"; return 1; }
	# Every symbol the fragment sets must survive Kconfig's dependency resolution.
	while read -r line; do
		case "$line" in
		CONFIG_*=*) sym=${line%%=*} want=$line ;;
		"# CONFIG_"*" is not set") sym=${line#\# } sym=${sym%% *} want="" ;;
		*) continue ;;
		esac
		got=$(grep -E "^$sym=" "$obj/.config")
		if [ "$got" != "$want" ]; then
			log "debug kernel: $sym: debug.config wants '${want:-not set}', Kconfig gave '${got:-not set}'"
			bad=1
		fi
	done <"$debug_fragment"
	[ $bad = 0 ] || return 1
}

# build_debug_kernel KEY: unpack, configure, build and install into $cache/debug/KEY; logs to
# $out/build-debug-kernel.log
build_debug_kernel() {
	local key=$1 ver src d="$cache/debug/$1" obj blog="$out/build-debug-kernel.log" deb tarball
	local t0 f
	ver=$(pkg_version linux-source-6.12)
	src="$cache/debug/src-${ver//[:~]/_}"
	obj="$d/obj"
	t0=$(date +%s)
	mkdir -p "$cache/debug"
	# drop other versions and fragments: one debug build at a time on a thin disk
	for f in "$cache/debug"/*; do
		[ -e "$f" ] || continue
		[ "$f" = "$src" ] || [ "$f" = "$d" ] && continue
		log "debug kernel: removing the old build $f"
		rm -rf "$f"
	done
	if [ ! -f "$src/.ready" ]; then
		deb=$(fetch linux-source-6.12 "$ver") || return 1
		log "debug kernel: unpacking linux-source-6.12 $ver"
		rm -rf "$src" "$src.tmp" && mkdir -p "$src.tmp" || return 1
		tarball=$(dpkg-deb -c "$deb" | grep -o '\./usr/src/linux-source-6\.12\.tar\.[a-z]*$' | head -1)
		[ -n "$tarball" ] || { log "no linux-source-6.12.tar.* in $deb"; return 1; }
		dpkg-deb --fsys-tarfile "$deb" | tar -xO "$tarball" |
			tar -x -J -C "$src.tmp" --strip-components=1 ||
			{ log "cannot unpack $tarball of $deb"; return 1; }
		mv "$src.tmp" "$src" && touch "$src/.ready"
	fi
	# An interrupted build (configured, not finished) resumes where make left it.
	if [ ! -f "$d/.configured" ]; then
		rm -rf "$d"
		mkdir -p "$obj"
		debug_configure "$src" "$obj" "$blog" || return 1
		touch "$d/.configured"
	else
		log "debug kernel: resuming the build of $key"
	fi
	log "debug kernel: building (nice -n 15, -j${DEBUG_JOBS:-2}; 15 minutes to an hour on two cores, by load), log $blog"
	nice -n 15 make -C "$src" O="$obj" -j"${DEBUG_JOBS:-2}" bzImage modules >>"$blog" 2>&1 ||
		{ log "debug kernel: build failed:"; tail -30 "$blog" >&2; return 1; }
	log "debug kernel: built in $(($(date +%s) - t0))s"
	touch "$d/.ready"
}

# prepare_debug_kernel: like prepare_kernel for the debug kernel; sets abi, arch, kdir, vmlinuz
prepare_debug_kernel() {
	local key d dir
	key=$(debug_key) || return 1
	d="$cache/debug/$key"
	[ -f "$d/.ready" ] || build_debug_kernel "$key" || return 1
	kdir="$d/obj"
	abi=$(cat "$kdir/include/config/kernel.release") || return 1
	arch=amd64
	dir="$cache/$abi"
	vmlinuz="$dir/img/boot/vmlinuz-$abi"
	if [ "$(cat "$dir/.ready" 2>/dev/null)" != "$key" ]; then
		rm -rf "$dir"
		mkdir -p "$dir/img/boot"
		cp "$kdir/arch/x86/boot/bzImage" "$vmlinuz" || return 1
		make -C "$kdir" INSTALL_MOD_PATH="$dir/img" INSTALL_MOD_STRIP=1 modules_install \
			>>"$out/build-debug-kernel.log" 2>&1 ||
			{ log "debug kernel: modules_install failed, see $out/build-debug-kernel.log"; return 1; }
		[ -n "$(find "$dir/img/lib/modules" -name 'configfs.ko*')" ] &&
			[ -n "$(find "$dir/img/lib/modules" -name 'null_blk.ko*')" ] ||
			{ log "$abi: configfs.ko or null_blk.ko not built"; return 1; }
		echo "$key" >"$dir/.ready"
	fi
}

# vmtest/kernels.sh - sourced by vmtest/run: which Debian kernels the matrix has, how to find
# the newest package of each with a private apt configuration, and the Debian toolchain each
# one is built with.
#
# The private apt configuration lives in $cache/apt (its own sources.list, package lists and an
# empty dpkg status); the machine's own apt sources and lists are never read or changed.

# The matrix: NAME|IMAGE-REGEX|ARCH. IMAGE-REGEX matches the image package name without its
# optional -unsigned suffix; the newest match (sort -V) whose headers are in the archive wins.
KERNEL_TABLE='
5.10|^linux-image-5\.10\.0-[0-9]+-amd64$|amd64
6.1|^linux-image-6\.1\.0-[0-9]+-amd64$|amd64
6.1-pae|^linux-image-6\.1\.0-[0-9]+-686-pae$|i386
6.12|^linux-image-6\.12\.[0-9]+\+deb12-amd64$|amd64
6.12-rt|^linux-image-6\.12\.[0-9]+\+deb12-rt-amd64$|amd64
7|^linux-image-7\.[0-9]+\.[0-9]+\+deb[0-9.]+-amd64$|amd64
7-rt|^linux-image-7\.[0-9]+\.[0-9]+\+deb[0-9.]+-rt-amd64$|amd64
'
ALL_KERNELS=(5.10 6.1 6.1-pae 6.12 6.12-rt 7 7-rt)

MIRROR=http://deb.debian.org/debian
SECURITY_MIRROR=http://deb.debian.org/debian-security
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

kernel_known() { grep -q "^$1|" <<<"$KERNEL_TABLE"; }
kernel_field() { grep "^$1|" <<<"$KERNEL_TABLE" | cut -d'|' -f"$2"; }

# apt_use ARCH: the private configuration papt_* use from then on. amd64 kernels and the tools
# use $cache/apt (amd64 lists only); the i386 kernel, its amd64 kbuild package and the i386
# libraries of the guest's static build use $cache/apt-i386 (amd64 and i386 lists). Two
# configurations, because apt drops every list of a suite when one of its indexes fails to
# download (a mirror out of step with its Release file): an i386 index must not hide the amd64
# kernels of that suite.
apt_use() {
	local a
	case "$1" in
	i386) apt_dir="$cache/apt-i386" apt_archs="amd64,i386" ;;
	*) apt_dir="$cache/apt" apt_archs="amd64" ;;
	esac
	APT_OPTS=(
		-o "Dir::Etc::SourceList=$apt_dir/sources.list"
		-o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
		-o "Dir::Etc::Preferences=$apt_dir/preferences"
		-o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
		-o "Dir::State::Lists=$apt_dir/lists"
		-o "Dir::State::status=$apt_dir/status"
		-o "Dir::Cache=$apt_dir/cache"
		# a binary cache of the lists, so that each apt-cache call does not parse them all again
		-o "Dir::Cache::pkgcache=pkgcache.bin" -o "Dir::Cache::srcpkgcache=srcpkgcache.bin"
		-o "Acquire::Languages=none"
		-o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
		-o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
		-o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
		-o "APT::Sandbox::User=root"
	)
	for a in ${apt_archs//,/ }; do
		APT_OPTS+=(-o "APT::Architectures::=$a")
	done
}
apt_use amd64
papt_cache() { apt-cache "${APT_OPTS[@]}" "$@"; }
papt_get() { apt-get "${APT_OPTS[@]}" "$@"; }

# apt_setup ARCH: write the private configuration of ARCH (see apt_use) and select it; refresh
# its lists when older than an hour (kernel packages move with security updates; old lists name
# .debs the archive no longer has)
apt_setup() {
	local s opts
	apt_use "$1"
	opts="arch=$apt_archs signed-by=$KEYRING"
	mkdir -p "$apt_dir"/{lists/partial,cache/archives/partial,sources.list.d,preferences.d}
	[ -f "$apt_dir/preferences" ] || : >"$apt_dir/preferences"
	[ -f "$apt_dir/status" ] || : >"$apt_dir/status"
	{
		for s in bullseye bookworm bookworm-updates bookworm-backports trixie trixie-backports sid; do
			echo "deb [$opts] $MIRROR $s main"
		done
		for s in bullseye-security bookworm-security trixie-security; do
			echo "deb [$opts] $SECURITY_MIRROR $s main"
		done
	} >"$apt_dir/sources.list.new"
	if ! cmp -s "$apt_dir/sources.list.new" "$apt_dir/sources.list"; then
		mv "$apt_dir/sources.list.new" "$apt_dir/sources.list"
		rm -f "$apt_dir/.updated"
	else
		rm -f "$apt_dir/sources.list.new"
	fi
	if [ -z "$(find "$apt_dir/.updated" -mmin -60 2>/dev/null)" ]; then
		log "apt-get update (private lists in $apt_dir)"
		apt_update || return 1
	fi
}

# apt_update: apt-get update, tried three times. A mirror caught mid-sync serves an index whose
# size or hash its Release file does not name ("Mirror sync in progress?"); apt then keeps every
# other list. When some lists still fail after the tries, the run goes on with the lists that
# were fetched, naming the failed ones on stderr (a kernel of those suites may resolve to an
# older build of its series, or not at all: newest_image fails naming it), and the lists stay
# marked stale so the next run tries again. No list fetched at all is an error.
apt_update() {
	local try failed
	for try in 1 2 3; do
		if papt_get update -qq >"$apt_dir/update.log" 2>&1; then
			touch "$apt_dir/.updated"
			return 0
		fi
		[ "$try" = 3 ] || sleep $((try * 5))
	done
	failed=$(sed -n 's/^E: Failed to fetch \([^ ]*\) .*/\1/p' "$apt_dir/update.log")
	if [ -z "$failed" ] || ! compgen -G "$apt_dir/lists/*_Packages*" >/dev/null; then
		tail -5 "$apt_dir/update.log" >&2
		return 1
	fi
	log "WARNING: apt-get update failed for these lists after 3 tries (the mirror is out of step" \
		"with its Release file); kernels resolve from the lists that were fetched:"
	sed 's/^/vmtest:   /' <<<"$failed" >&2
	grep -m1 "^E: Failed to fetch" "$apt_dir/update.log" | sed 's/^/vmtest:   /' >&2
	return 0
}

# pkg_version PKG -> the newest version of PKG in the private lists (PKG may carry :i386)
pkg_version() {
	papt_cache show "$1" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1
}

# newest_image NAME -> "ABI IMAGE-PACKAGE" e.g. "6.12.118+deb12-rt-amd64
# linux-image-6.12.118+deb12-rt-amd64-unsigned": the newest image of the series whose headers
# package is in the archive too (the -unsigned package when there is one: it has no signature
# to strip and the same files)
newest_image() {
	local re arch q abi name
	re=$(kernel_field "$1" 2) arch=$(kernel_field "$1" 3)
	q=""
	[ "$arch" = i386 ] && q=":i386"
	for abi in $(papt_cache search --names-only "${re%\$}(-unsigned)?\$" | awk '{print $1}' |
		sed -e 's/-unsigned$//' -e 's/^linux-image-//' | sort -u | sort -rV); do
		papt_cache show "linux-headers-$abi$q" >/dev/null 2>&1 || continue
		name="linux-image-$abi-unsigned"
		papt_cache show "$name$q" >/dev/null 2>&1 || name="linux-image-$abi"
		echo "$abi $name$q"
		return
	done
}

# toolchain_of ABI -> the Debian release whose compiler built the kernel: host (this machine's
# Debian 12), bullseye, trixie or sid
toolchain_of() {
	case "$1" in
	*-kpeek-debug) echo host ;;	# vmtest/debugkernel.sh builds it here
	5.10.0-*) echo bullseye ;;
	6.1.0-* | *+deb12-* | *+deb12.*) echo host ;;
	*+deb13-* | *+deb13.*) echo trixie ;;
	*) echo sid ;;
	esac
}

# compiler_of KDIR -> the compiler command the kernel was built with, from its
# CONFIG_CC_VERSION_TEXT ("x86_64-linux-gnu-gcc-12 (Debian ...", "gcc-10 (Debian ...")
compiler_of() {
	sed -n 's/^CONFIG_CC_VERSION_TEXT="\([a-z0-9_-]*gcc-[0-9]*\) .*/\1/p' "$1/.config"
}

# toolchain_root RELEASE CC -> a chroot of that Debian release with GCC, make, sparse and the
# libraries kbuild's own programs (modpost, objtool) link against, cached in $cache/tc-RELEASE
# (made once with debootstrap from the Debian mirror). "host" -> empty: build on this machine.
toolchain_root() {
	local rel=$1 cc=$2 d="$cache/tc-$1" libelf=libelf1 pkg extra=""
	pkg=gcc-${cc##*gcc-}
	[ "$rel" = host ] && return 0
	# trixie and later: libelf's t64 name; pahole, as kbuild compares its version with the
	# kernel's (a difference is a warning)
	case "$rel" in trixie | sid) libelf=libelf1t64 extra=,dwarves ;; esac
	if [ ! -f "$d/.ready" ] || [ ! -x "$d/usr/bin/$cc" ] ||
		{ [ -n "$extra" ] && [ ! -x "$d/usr/bin/pahole" ]; }; then
		command -v debootstrap >/dev/null || { log "debootstrap missing (scripts/setup installs it)"; return 1; }
		log "making the $rel toolchain chroot ($cc, make, sparse) in $d"
		rm -rf "$d.tmp"
		if ! nice -n 10 debootstrap --variant=minbase --arch=amd64 \
			--include="$pkg,make,libc6-dev,$libelf,sparse,bc$extra" "$rel" "$d.tmp" "$MIRROR" \
			>"$out/debootstrap-$rel.log" 2>&1; then
			log "debootstrap $rel failed, see $out/debootstrap-$rel.log"
			umount "$d.tmp/proc" "$d.tmp/sys" 2>/dev/null
			return 1
		fi
		umount "$d.tmp/proc" "$d.tmp/sys" 2>/dev/null
		rm -rf "$d"
		mv "$d.tmp" "$d"
		touch "$d/.ready"
	fi
	echo "$d"
}

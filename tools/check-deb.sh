#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# callbox's Debian packages (debian/), built and checked as a user would
# get them:
#
#   1. a copy of the source tree (the git-tracked files and the untracked
#      ones git does not ignore, as they are in the work tree, uncommitted
#      changes included; never build/) in a temporary directory, where
#      `dpkg-buildpackage -b -uc -us` builds the packages: the tree itself
#      and its build/ are not touched
#   2. the four packages exist (callbox-dkms, libcallbox1, libcallbox-dev,
#      callbox-tools), each with its key files (dpkg-deb -c)
#   3. lintian on the .changes (with debian/*.lintian-overrides) reports
#      no error and no warning; the informational and pedantic tags it
#      also reports are printed as diagnostics
#   4. libcallbox1, libcallbox-dev and callbox-tools install together with
#      `dpkg --root` into a temporary root, whose dpkg database holds this
#      machine's entries for the packages they depend on, so that dpkg
#      checks their dependencies; there, pkg-config (PKG_CONFIG_SYSROOT_DIR)
#      finds libcallbox, dist/consumer's host program builds shared and
#      static and its guest with the packaged SDK, the packaged CLI runs
#      on the packaged library; `dpkg --root --purge` then leaves no file
#   5. DKMS (a private tree, modules not signed, nothing installed) builds
#      callbox-dkms's module source for every kernel >= 6.1 whose headers
#      are installed
#
# Nothing is installed on this machine. Needs the build dependencies in
# debian/control, lintian and dkms (tools/deps.sh installs them). Takes
# 55-80 s on a 2-core machine (measured: 57, 62 and 77 s; the build 16-25 s,
# lintian ~10 s, the consumer ~5 s, each kernel's DKMS build ~15 s). Prints
# kselftest-style TAP ending with a "# Totals:" line; exits 1 on any
# failure.
# The checks are functions that check() calls:
# shellcheck disable=SC2317
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/log
src=$tmp/pkg/callbox
: >"$log"

. "$root/selftests/vm/tap.sh"
# check DESCRIPTION CMD...: one test, CMD's output kept for a failure.
check() {
	tap_check "$log" "$@"
}
totals() {
	tap_totals
	exit
}

echo "TAP version 13"

# ---- 1. the copy and the build ----
copy_tree() {
	mkdir -p "$src" || return
	if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# Tracked files deleted in the work tree are left out.
		git -C "$root" ls-files -z --cached --others --exclude-standard |
			rsync -a --from0 --files-from=- --ignore-missing-args \
				"$root/" "$src/"
	else
		rsync -a --exclude /build --exclude /.git "$root/" "$src/"
	fi
}
check "copy of the source tree (tracked and untracked, no build/)" copy_tree
[ -f "$src/debian/control" ] || totals

version=$(cd "$src" && dpkg-parsechangelog -SVersion)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=/usr/lib/$multiarch
build_log=$tmp/build.log
start=$SECONDS
(cd "$src" && dpkg-buildpackage -b -uc -us) >"$build_log" 2>&1
rc=$?
tail -n 40 "$build_log" >"$log"
tap_result $rc "dpkg-buildpackage -b -uc -us ($((SECONDS - start)) s)" "$log"
[ $rc -eq 0 ] || totals

# ---- 2. the packages and their files ----
out=$tmp/pkg
deb() { echo "$out/${1}_${version}_$2.deb"; }
declare -A debs=(
	[callbox-dkms]=$(deb callbox-dkms all)
	[libcallbox1]=$(deb libcallbox1 "$arch")
	[libcallbox-dev]=$(deb libcallbox-dev "$arch")
	[callbox-tools]=$(deb callbox-tools "$arch")
)
declare -A files=(
	[callbox-dkms]="
		/usr/src/callbox-$version/dkms.conf
		/usr/src/callbox-$version/Kbuild
		/usr/src/callbox-$version/kmod/Kbuild
		/usr/src/callbox-$version/kmod/main.c
		/usr/src/callbox-$version/uapi/linux/callbox.h
		/usr/src/callbox-$version/uapi/linux/callbox_netlink.h
		/lib/udev/rules.d/60-callbox.rules
		/usr/share/callbox/modules-load.d/callbox.conf
		/usr/share/man/man4/callbox.4.gz
		/usr/share/doc/callbox-dkms/copyright"
	[libcallbox1]="
		$libdir/libcallbox.so.1
		/usr/share/doc/libcallbox1/copyright"
	[libcallbox-dev]="
		$libdir/libcallbox.so
		$libdir/libcallbox.a
		$libdir/pkgconfig/libcallbox.pc
		$libdir/pkgconfig/callbox-guest.pc
		/usr/include/callbox/callbox.h
		/usr/include/callbox/abi.h
		/usr/include/callbox/wire.h
		/usr/include/linux/callbox.h
		/usr/include/linux/callbox_netlink.h
		/usr/include/callbox-guest/callbox/guest.h
		$libdir/callbox/guest/callbox-guest.o
		$libdir/callbox/guest/guest.ld
		/usr/share/man/man3/libcallbox.3.gz
		/usr/share/man/man7/callbox-guest.7.gz"
	[callbox-tools]="
		/usr/bin/callbox
		/usr/share/man/man1/callbox.1.gz"
)
# Files that must not be there: the module built for the build machine's
# kernel, and the library's development link in the runtime package.
declare -A unwanted=(
	[callbox-dkms]='\.ko$|\.o$|/etc/'
	[libcallbox1]='\.so$|\.a$|/include/'
	[libcallbox-dev]='\.so\.1$'
	[callbox-tools]='\.so|/include/'
)
pkgs=(callbox-dkms libcallbox1 libcallbox-dev callbox-tools)
for p in "${pkgs[@]}"; do
	check "$p: $(basename "${debs[$p]}") built" test -f "${debs[$p]}"
done
has_files() {
	local p=$1 list f missing=()
	list=$(dpkg-deb -c "${debs[$p]}" | awk '{print $6}' | sed 's|^\.||') ||
		return
	for f in ${files[$p]}; do
		grep -qxF "$f" <<<"$list" || missing+=("$f")
	done
	[ ${#missing[@]} -eq 0 ] || { echo "missing: ${missing[*]}"; return 1; }
	if grep -E "${unwanted[$p]}" <<<"$list"; then
		echo "(files that do not belong in $p)"
		return 1
	fi
}
for p in "${pkgs[@]}"; do
	if [ -f "${debs[$p]}" ]; then
		check "$p: has its files" has_files "$p"
	else
		echo "no ${debs[$p]}" >"$log"
		tap_result 1 "$p: has its files" "$log"
	fi
done

# ---- 3. lintian ----
changes=$out/callbox_${version}_$arch.changes
lintian_out=$tmp/lintian.out
lintian --pedantic --display-info "$changes" 2>&1 |
	grep -v '^running with root privileges' >"$lintian_out"
lintian_rc=${PIPESTATUS[0]}
grep -E '^[EW]: ' "$lintian_out" >"$log"
echo "lintian exit code: $lintian_rc" >>"$log"
[ "$lintian_rc" -eq 0 ] && ! grep -qE '^[EW]: ' "$lintian_out"
tap_result $? "lintian: no error, no warning" "$log"
grep -vE '^[EW]: ' "$lintian_out" | sed 's/^/# lintian: /'

# ---- 4. libcallbox1 + libcallbox-dev + callbox-tools in a dpkg --root ----
inst=$tmp/root
ours=(libcallbox1 libcallbox-dev callbox-tools)
# The root's dpkg database: this machine's entries for the packages ours
# depend on (not theirs: dpkg checks only direct dependencies).
seed_root() {
	local p d
	mkdir -p "$inst/var/lib/dpkg/info" "$inst/var/lib/dpkg/updates" \
		"$inst/var/log" || return
	: >"$inst/var/lib/dpkg/status"
	for p in "${ours[@]}"; do
		dpkg-deb -f "${debs[$p]}" Pre-Depends Depends
	done | sed 's/^[A-Za-z-]*: //; s/[,|]/\n/g' |
		sed 's/(.*)//; s/:.*//; s/[[:space:]]//g' | sort -u | grep . >"$tmp/deps"
	while read -r d; do
		case " ${ours[*]} " in *" $d "*) continue ;; esac
		dpkg-query -s "$d" >>"$inst/var/lib/dpkg/status" || {
			echo "$d: not installed on this machine"
			return 1
		}
		echo >>"$inst/var/lib/dpkg/status"
	done <"$tmp/deps"
}
dpkg_root() {
	dpkg --root="$inst" --log="$inst/var/log/dpkg.log" "$@"
}
install_ours() {
	seed_root || return
	dpkg_root -i "${debs[libcallbox1]}" "${debs[libcallbox-dev]}" \
		"${debs[callbox-tools]}" || return
	dpkg_root --audit && dpkg_root -l "${ours[@]}"
}
check "dpkg --root installs libcallbox1, libcallbox-dev and callbox-tools" \
	install_ours

export PKG_CONFIG_SYSROOT_DIR=$inst
export PKG_CONFIG_LIBDIR=$inst$libdir/pkgconfig:$libdir/pkgconfig:/usr/share/pkgconfig
pc_flags() {
	local flags
	flags=$(pkg-config --cflags --libs libcallbox) || return
	echo "$flags"
	grep -qe "-I$inst/usr/include" <<<"$flags" &&
		grep -qe "-L$inst$libdir -lcallbox" <<<"$flags"
}
check "pkg-config --cflags --libs libcallbox (sysroot: the dpkg root)" pc_flags

consumer=$tmp/consumer
build_consumer() {
	cp -r "$src/dist/consumer" "$consumer" &&
		make -C "$consumer" --no-print-directory &&
		grep -q 'NEEDED *libcallbox.so.1' \
			<<<"$(objdump -p "$consumer/consumer-shared")" &&
		grep -q 'Type: *EXEC' <<<"$(readelf -h "$consumer/add3.elf")"
}
check "dist/consumer builds against the packages (shared, static, guest SDK)" \
	build_consumer
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR

# Each tool's output is read whole before grep -q looks at it: in a pipe,
# grep -q exits at the first match, and with pipefail the writer's
# SIGPIPE fails the check (it did, once, in CI: ldd writes line by line).
cli_runs() {
	local out libs
	out=$(LD_LIBRARY_PATH=$inst$libdir "$inst/usr/bin/callbox" --version) ||
		return
	echo "$out"
	libs=$(LD_LIBRARY_PATH=$inst$libdir ldd "$inst/usr/bin/callbox") &&
		grep -qF "$inst$libdir/libcallbox.so.1" <<<"$libs" &&
		[ "$out" = "callbox $version" ]
}
check "the packaged callbox --version runs on the packaged libcallbox.so.1" \
	cli_runs

purge_ours() {
	dpkg_root --purge "${ours[@]}" || return
	find "$inst" -mindepth 1 -not -path "$inst/var/lib/dpkg*" \
		-not -path "$inst/var/log*" -not -type d | grep . && return 1
	return 0
}
check "dpkg --root --purge leaves no file behind" purge_ours

# ---- 5. DKMS builds callbox-dkms's source ----
dkms_x=$tmp/dkms-x
dkms_tree=$tmp/dkms-tree
mkdir -p "$dkms_x" "$dkms_tree"
dpkg-deb -x "${debs[callbox-dkms]}" "$dkms_x"
kernels=()
for kdir in /lib/modules/*/build; do
	[ -d "$kdir" ] || continue
	k=$(basename "$(dirname "$kdir")")
	# Kbuild and dkms.conf refuse kernels older than 6.1.
	[ "$(printf '%s\n%s\n' 6.1 "$k" | sort -V | head -n 1)" = 6.1 ] &&
		kernels+=("$k")
done
dkms_build() {
	local k=$1
	# sign_file: no signing, so no key is made in /var/lib/dkms.
	sign_file=/nonexistent dkms build -m callbox -v "$version" -k "$k" \
		--sourcetree "$dkms_x/usr/src" --dkmstree "$dkms_tree" || return
	# compressed as the kernel's own modules are (6.12's: callbox.ko.xz)
	compgen -G "$dkms_tree/callbox/$version/$k/*/module/callbox.ko*"
}
if [ ${#kernels[@]} -eq 0 ]; then
	tap_skip "dkms build of callbox-dkms's source:" \
		"no kernel >= 6.1 with headers in /lib/modules/*/build"
fi
for k in "${kernels[@]}"; do
	check "dkms build of callbox-dkms's source for $k" dkms_build "$k"
done

totals

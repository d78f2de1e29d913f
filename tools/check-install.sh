#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# callbox as an outside project sees it, once installed (issue 13):
#
#   1. make install into a temporary DESTDIR (PREFIX=/usr, Debian's
#      multiarch LIBDIR): every file where it belongs; the installed CLI
#      runs; make uninstall removes all of it; a default install goes
#      under /usr/local
#   2. outside the source tree, with only the installed files: dist/
#      consumer's host program built with pkg-config the shared and the
#      static way, and its guest with the installed SDK
#   3. DKMS (dkms add / build, in a private DKMS tree) builds the module
#      for the VM's kernel, and for every other kernel >= 6.1 whose headers
#      are installed; make modules_install installs one into a DESTDIR
#   4. in the VM, on the module DKMS built: both host programs call the
#      guest, and so does the installed CLI
#
# Needs the build (make userspace) and dkms. Prints kselftest-style TAP
# with a "# Totals:" line; exits 1 on any failure.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/log
version=$(sed -n "s/^VERSION := //p" Makefile)
multiarch=$(gcc -print-multiarch)
libdir=/usr/lib/$multiarch
dest=$tmp/root
kver=$(tools/vm/kernel.sh --kver)

. selftests/vm/tap.sh
# check DESCRIPTION CMD...: one test, CMD's output kept for a failure.
check() {
	tap_check "$log" "$@"
}

echo "TAP version 13"

# ---- 1. make install / uninstall ----
check "make install DESTDIR=... PREFIX=/usr LIBDIR=$libdir" \
	make -s --no-print-directory install DESTDIR="$dest" PREFIX=/usr \
	LIBDIR="$libdir"

expected=(
	/usr/bin/callbox
	"$libdir/libcallbox.so.1" "$libdir/libcallbox.so" "$libdir/libcallbox.a"
	/usr/include/callbox/callbox.h /usr/include/callbox/abi.h
	/usr/include/callbox/wire.h
	/usr/include/linux/callbox.h /usr/include/linux/callbox_netlink.h
	"$libdir/pkgconfig/libcallbox.pc" "$libdir/pkgconfig/callbox-guest.pc"
	/usr/include/callbox-guest/callbox/guest.h
	"$libdir/callbox/guest/callbox-guest.o" "$libdir/callbox/guest/guest.ld"
	/usr/share/man/man1/callbox.1 /usr/share/man/man3/libcallbox.3
	/usr/share/man/man4/callbox.4 /usr/share/man/man7/callbox-guest.7
	/usr/lib/udev/rules.d/60-callbox.rules
	/usr/share/callbox/modules-load.d/callbox.conf
)
missing=()
for f in "${expected[@]}"; do
	[ -e "$dest$f" ] || missing+=("$f")
done
echo "missing: ${missing[*]}" >"$log"
tap_result ${#missing[@]} "the installed files are where they belong (${#expected[@]} checked)" "$log"

check "libcallbox.so is a link to libcallbox.so.1, its soname" \
	bash -c "[ \"\$(readlink '$dest$libdir/libcallbox.so')\" = libcallbox.so.1 ] &&
		objdump -p '$dest$libdir/libcallbox.so.1' | grep -q 'SONAME *libcallbox.so.1'"

check "every man page the tree has is installed" \
	bash -c "for p in man/man*/*.[0-9]; do
		cmp \"\$p\" '$dest/usr/share/man/'\"\${p#man/}\" || exit 1; done"

check "the installed CLI, linked against the installed library, says $version" \
	bash -c "out=\$(LD_LIBRARY_PATH='$dest$libdir' '$dest/usr/bin/callbox' --version) &&
		echo \"\$out\" && [ \"\$out\" = 'callbox $version' ] &&
		LD_LIBRARY_PATH='$dest$libdir' ldd '$dest/usr/bin/callbox' |
		grep -q '$dest$libdir/libcallbox.so.1'"

check "dkms.conf's PACKAGE_VERSION is the Makefile's VERSION ($version)" \
	grep -qx "PACKAGE_VERSION=\"$version\"" dkms.conf

# Uninstall from a copy, so that the rest can use the install.
cp -a "$dest" "$tmp/root-un"
check "make uninstall removes every file install installed" \
	bash -c "make -s --no-print-directory uninstall DESTDIR='$tmp/root-un' \
		PREFIX=/usr LIBDIR='$libdir' &&
		left=\$(find '$tmp/root-un' ! -type d) && echo \"left: \$left\" &&
		[ -z \"\$left\" ]"

check "by default, install goes under /usr/local (and udev's rules there)" \
	bash -c "make -s --no-print-directory install DESTDIR='$tmp/root-local' &&
		outside=\$(cd '$tmp/root-local' && find . ! -type d | grep -v '^./usr/local/' || true) &&
		echo \"outside /usr/local: \$outside\" && [ -z \"\$outside\" ] &&
		test -f '$tmp/root-local/usr/local/lib/libcallbox.so.1' &&
		test -f '$tmp/root-local/usr/local/share/man/man1/callbox.1'"

# ---- 2. an outside project, with only the installed files ----
consumer=$tmp/consumer
cp -r dist/consumer "$consumer"
export PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH=$dest$libdir/pkgconfig
check "outside the tree: the consumer builds with pkg-config alone" \
	make -C "$consumer" --no-print-directory
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
check "consumer-shared needs libcallbox.so.1" \
	bash -c "objdump -p '$consumer/consumer-shared' | grep -q 'NEEDED *libcallbox.so.1'"
check "consumer-static needs no shared library" \
	bash -c "! objdump -p '$consumer/consumer-static' | grep -q NEEDED"
check "the guest is a static x86-64 ELF that starts at the SDK's _start" \
	bash -c "readelf -h '$consumer/add3.elf' | grep -q 'Type: *EXEC' &&
		[ \"\$(readelf -h '$consumer/add3.elf' | sed -n 's/.*Entry point address: *//p')\" = \
		  \"0x\$(nm '$consumer/add3.elf' | sed -n 's/^0*\([0-9a-f]*\) T _start$/\1/p')\" ]"

# Each kind of program is refused the other's header, with a message.
printf '#include <callbox/guest.h>\nint main(void) { return 0; }\n' \
	>"$tmp/mixed_host.c"
printf '#include <callbox/callbox.h>\n' >"$tmp/mixed_guest.c"
check "a host program that includes <callbox/guest.h> is told to build freestanding" \
	bash -c "! cc -I'$dest/usr/include/callbox-guest' -I'$dest/usr/include' \
		-c '$tmp/mixed_host.c' -o /dev/null 2>'$tmp/err' &&
		cat '$tmp/err' && grep -q 'is for guests' '$tmp/err'"
check "a guest that includes <callbox/callbox.h> is told it is the host's" \
	bash -c "! cc \$(PKG_CONFIG_SYSROOT_DIR='$dest' \
		PKG_CONFIG_PATH='$dest$libdir/pkgconfig' \
		pkg-config --cflags callbox-guest) -c '$tmp/mixed_guest.c' \
		-o /dev/null 2>'$tmp/err' &&
		cat '$tmp/err' && grep -q 'is for host programs' '$tmp/err'"

# ---- 3. DKMS and modules_install ----
dkms_src=$tmp/src
dkms_tree=$tmp/dkms
mkdir -p "$dkms_tree"
dkms_ko=
check "make dkms-source" make -s --no-print-directory dkms-source \
	DESTDIR="$dkms_src" DKMS_SOURCEDIR=/callbox-"$version"
check "dkms add" dkms add -m callbox -v "$version" \
	--sourcetree "$dkms_src" --dkmstree "$dkms_tree"
for kdir in /lib/modules/*/build; do
	k=$(basename "$(dirname "$kdir")")
	# dkms.conf makes DKMS skip a kernel older than 6.1 (exit 77).
	[ "$(printf '6.1\n%s\n' "$k" | sort -V | head -n 1)" = 6.1 ] || continue
	# sign_file: no signing, so no key is made in /var/lib/dkms.
	check "dkms build for $k" env sign_file=/nonexistent \
		dkms build -m callbox -v "$version" -k "$k" \
		--sourcetree "$dkms_src" --dkmstree "$dkms_tree"
	ko=$(find "$dkms_tree/callbox/$version/$k" -name 'callbox.ko*' | head -n 1)
	check "DKMS's module for $k has that kernel's vermagic" \
		bash -c "modinfo -F vermagic '$ko' | grep -q '^$k '"
	[ "$k" = "$kver" ] && dkms_ko=$ko
done

# In a copy of the sources: Kbuild builds the module in the tree, and its
# clean would delete every object below it, build/ included.
src_copy=$tmp/tree
mkdir -p "$src_copy"
git ls-files -z --cached --others --exclude-standard |
	xargs -0 cp --parents -t "$src_copy"
check "make modules_install DESTDIR=... puts the module in updates/" \
	bash -c "make -s --no-print-directory -C '$src_copy' modules_install \
		KDIR=/lib/modules/$kver/build DESTDIR='$tmp/mods' &&
		test -f '$tmp/mods/lib/modules/$kver/updates/callbox.ko'"

# ---- 4. in the VM, on DKMS's module ----
if [ -z "$dkms_ko" ]; then
	echo "no DKMS module for $kver" >"$log"
	tap_result 1 "in the VM: the consumer's calls (no module)" "$log"
else
	# The VM mounts a tmpfs on /tmp: the installed library goes where an
	# install on a host puts it, and libnl and libc where ldd finds them.
	export LD_LIBRARY_PATH=$dest$libdir
	tools/vm/run.sh --timeout 300 --log "$tmp/console.log" \
		--module "$dkms_ko" \
		--add "$dest$libdir/libcallbox.so.1:$libdir/" \
		--add "$consumer/consumer-shared:/bin/" \
		--add-libs "$consumer/consumer-shared" \
		--add "$consumer/consumer-static:/bin/" \
		--add "$dest/usr/bin/callbox:/bin/callbox" \
		--add-libs "$dest/usr/bin/callbox" \
		--add "$consumer/add3.elf:/guests/" \
		-- "consumer-shared /guests/add3.elf; echo rc=\$?;" \
		"consumer-static /guests/add3.elf; echo rc=\$?;" \
		"callbox run /guests/add3.elf add3 i64:40 i64:1 i64:1; echo rc=\$?" \
		>"$tmp/vm.out" 2>&1
	vm_rc=$?
	unset LD_LIBRARY_PATH
	cp "$tmp/vm.out" "$log"
	tap_result $vm_rc "the VM ran on DKMS's module with a clean dmesg" "$log"
	grep -A1 -x 'consumer (shared): add3(1, 2, 3) = 6' "$tmp/vm.out" \
		>"$log" 2>&1
	grep -qx rc=0 "$log"
	tap_result $? "in the VM: consumer-shared called the guest (add3 = 6)" "$log"
	grep -A1 -x 'consumer (static): add3(1, 2, 3) = 6' "$tmp/vm.out" \
		>"$log" 2>&1
	grep -qx rc=0 "$log"
	tap_result $? "in the VM: consumer-static called the guest (add3 = 6)" "$log"
	grep -A1 -E '^(i64:)?42$' "$tmp/vm.out" >"$log" 2>&1
	grep -qx rc=0 "$log"
	tap_result $? "in the VM: the installed CLI ran the outside guest (42)" "$log"
fi

tap_totals

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the debug lane's kernel (make check-debug) from Debian's
# linux-source-6.1: allnoconfig, then vm.config (what the test VM needs to
# boot), debug.config (KASAN, lockdep, kmemleak, UBSAN, fault injection)
# and selftests/vm/config (what the VM suites need). Built once per
# configuration: the result is cached under build/debug-kernel/KEY/, KEY
# being a hash of the three fragments, this script, the source package's
# version and the compiler's and pahole's. Prints that directory on
# stdout; everything else goes to stderr. The kernel is built in one
# build tree, build/debug-kernel/obj, so that a change to the fragments
# rebuilds only what it touches (about 13 min from scratch on 2 CPUs).
#
# Usage: tools/debug-kernel/build.sh
#
# The directory holds:
#   obj        a link to the build tree (O=), for modules: -C obj M=...;
#              valid while its .config is this directory's config
#   bzImage    the kernel the VM boots (see the build step for why not
#              the ELF vmlinux through PVH, as for Debian's kernels)
#   root/      modules_install output: lib/modules/KVER/ (kvm, kvm-amd)
#   config     the kernel's .config
#   kver       the kernel release, e.g. 6.1.192-callbox-debug
#   build-time seconds the build took on this machine
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
tarball=/usr/src/linux-source-6.1.tar.xz
fragments=("$here/vm.config" "$here/debug.config" "$root/selftests/vm/config")

die() {
	echo "debug-kernel: $*" >&2
	exit 1
}

[[ -f "$tarball" ]] || die "$tarball is missing: install linux-source-6.1 (tools/deps.sh --debug-kernel)"
for tool in flex bison bc pahole; do
	command -v "$tool" >/dev/null ||
		die "$tool is missing: run tools/deps.sh --debug-kernel"
done

srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$({
	cat "${fragments[@]}" "${BASH_SOURCE[0]}"
	echo "$srcver"
	gcc --version | head -n1
	pahole --version
} | sha256sum | cut -c1-12)
cache=$root/build/debug-kernel
out=$cache/$key
src=$cache/src-$srcver
obj=$cache/obj

if [[ -f "$out/done" ]] && cmp -s "$out/config" "$obj/.config"; then
	echo "debug-kernel: cached $(cat "$out/kver") ($key)" >&2
	echo "$out"
	exit 0
fi

start=$SECONDS
if [[ ! -d "$src" ]]; then
	echo "debug-kernel: extracting $tarball" >&2
	rm -rf "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
	mv "$src.tmp" "$src"
fi

rm -rf "$out"
mkdir -p "$out" "$obj"
kmake() {
	make -C "$src" O="$obj" -j"$(nproc)" "$@"
}
echo "debug-kernel: configuring ($key)" >&2
kmake -s allnoconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
	"${fragments[@]}" >"$out/merge.log" 2>&1 || {
	cat "$out/merge.log" >&2
	die "merge_config.sh failed"
}
kmake -s olddefconfig >&2

# Every option asked for must have landed: Kconfig drops what a
# dependency forbids without a word.
missing=0
while read -r line; do
	case "$line" in
	"" | "#"*) continue ;;
	*=n) want="# ${line%=n} is not set" ;;
	*) want=$line ;;
	esac
	if ! grep -qxF -- "$want" "$obj/.config"; then
		echo "debug-kernel: the config lacks $line" >&2
		missing=1
	fi
done < <(cat "${fragments[@]}")
((missing == 0)) || die "some options did not land (see above); fix the fragments"

echo "debug-kernel: building on $(nproc) CPUs, see $out/build.log" >&2
# The bzImage: booted through PVH, this configuration's ELF vmlinux
# printed nothing at all, not even with earlyprintk (measured); the
# bzImage's own decompressor comes up in about 5 s under TCG.
kmake bzImage modules >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	die "the kernel build failed"
}
kmake -s INSTALL_MOD_PATH="$out/root" INSTALL_MOD_STRIP=1 modules_install \
	>>"$out/build.log" 2>&1 || die "modules_install failed"
kmake -s kernelrelease >"$out/kver"
cp "$obj/arch/x86/boot/bzImage" "$out/bzImage"
cp "$obj/.config" "$out/config"
ln -sfn ../obj "$out/obj"
echo $((SECONDS - start)) >"$out/build-time"
touch "$out/done"
echo "debug-kernel: built $(cat "$out/kver") in $((SECONDS - start)) s" >&2
echo "$out"

#!/bin/bash
# Find the Debian kernel the test VM boots, and extract its uncompressed ELF
# image. QEMU boots an ELF vmlinux through its PVH entry note, which skips the
# bzImage self-decompression: ~2.5-3 s to /init instead of ~6 s under TCG.
#
# Usage: tools/vm/kernel.sh OUTDIR   write OUTDIR/kver and OUTDIR/vmlinux
#        tools/vm/kernel.sh --kver   print the kernel version and exit
#
# The version is resolved at run time, never hard-coded: Debian bumps the ABI
# number (6.1.0-NN) with every security update. By default it is the one
# the linux-image-amd64 metapackage points at (6.1 on Debian 12), pinned to
# 6.1: if the metapackage points elsewhere, the newest installed 6.1.
# CALLBOX_VM_KVER chooses another installed kernel: a series such as 6.12
# (the newest installed 6.12.*-amd64) or an exact version (6.12.95+deb12-amd64).
# CALLBOX_VM_KERNEL=DIR boots a kernel we built instead (the debug lane:
# tools/debug-kernel/build.sh prints such a DIR, with DIR/bzImage, DIR/kver
# and its modules under DIR/root); QEMU boots the bzImage as it is.
set -euo pipefail
# Byte semantics for grep -P on binary data (and bash's read, which fails on
# bytes that are invalid in a UTF-8 locale).
export LC_ALL=C

usage() {
	sed -n '2,13s/^# \{0,1\}//p' "$0"
}

die() {
	echo "kernel.sh: $*" >&2
	exit 1
}

# A version is usable only if both the image and its modules are installed
# (the VM needs kvm.ko and friends from the same build).
usable() {
	[[ -n "$1" && -f "/boot/vmlinuz-$1" && -d "/lib/modules/$1/kernel" ]]
}

# The newest usable kernel whose version matches glob $1; fails if none.
newest_usable() {
	local f kver
	while read -r f; do
		kver=${f#/boot/vmlinuz-}
		if usable "$kver"; then
			echo "$kver"
			return 0
		fi
	done < <(compgen -G "/boot/vmlinuz-$1" | sort -rV)
	return 1
}

# CALLBOX_VM_KVER: an exact version, or the newest usable kernel of a series
# ("6.1" matches 6.1.0-57-amd64, not 6.12.95+deb12-amd64).
resolve_chosen() {
	local want=$1
	if usable "$want"; then
		echo "$want"
		return
	fi
	newest_usable "$want.*-amd64" ||
		die "CALLBOX_VM_KVER=$want: no such kernel installed (need /boot/vmlinuz-VER and /lib/modules/VER/kernel; for 6.12: tools/deps.sh --kernel-6.12)"
}

resolve_kver() {
	local dep kver
	if [[ -n "${CALLBOX_VM_KERNEL:-}" ]]; then
		[[ -f "$CALLBOX_VM_KERNEL/kver" && -f "$CALLBOX_VM_KERNEL/bzImage" ]] ||
			die "CALLBOX_VM_KERNEL=$CALLBOX_VM_KERNEL: no kver or bzImage there (see tools/debug-kernel/build.sh)"
		cat "$CALLBOX_VM_KERNEL/kver"
		return
	fi
	if [[ -n "${CALLBOX_VM_KVER:-}" ]]; then
		resolve_chosen "$CALLBOX_VM_KVER"
		return
	fi
	# Prefer the kernel the linux-image-amd64 metapackage points at: that is
	# the one linux-headers-amd64 matches, so callbox.ko builds against it.
	# Depends looks like "linux-image-6.1.0-56-amd64 (= 6.1.192-2)".
	# But the default lane is pinned to Debian 12's 6.1: if the metapackage
	# has moved on (`apt-get -t bookworm-backports install` of another
	# package can move it to 6.12), boot the newest installed 6.1 instead.
	dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null || true)
	kver=$(grep -o 'linux-image-[^ ,|]*' <<<"$dep" | head -n1 || true)
	kver=${kver#linux-image-}
	if [[ "$kver" == 6.1.* ]] && usable "$kver"; then
		echo "$kver"
		return
	fi
	newest_usable '6.1.*-amd64' && return
	if usable "$kver"; then
		echo "$kver"
		return
	fi
	# Fallback: the newest installed -amd64 kernel that has its modules.
	newest_usable '*-amd64' ||
		die "no usable kernel: need /boot/vmlinuz-VER and /lib/modules/VER/kernel (run tools/deps.sh)"
}

# Read an unsigned little-endian integer of SIZE bytes at OFFSET of FILE.
read_le() {
	local v
	v=$(od -An -t "u$2" -j "$3" -N "$2" "$1")
	echo $((v))
}

is_elf() {
	[[ "$(head -c4 "$1" | od -An -c | tr -d ' ')" == '177ELF' ]]
}

# Decompress stdin to stdout by format name. --single-stream / -q make the
# tools stop at the end of the first stream and ignore the bytes after it
# (the kernel appends a 4-byte size, and the scan fallback feeds the rest of
# the file).
decompress() {
	case "$1" in
	xz) xz -dc --single-stream ;;
	zstd)
		command -v zstd >/dev/null || die "zstd-compressed kernel but no zstd binary (apt-get install zstd)"
		zstd -dcq
		;;
	gzip) gzip -dcq ;;
	esac
}

# Name the compression format from the magic bytes at OFFSET, or fail.
format_at() {
	local magic
	magic=$(od -An -tx1 -j "$2" -N6 "$1" | tr -d ' \n')
	case "$magic" in
	fd377a585a00) echo xz ;;
	28b52ffd*) echo zstd ;;
	1f8b08*) echo gzip ;;
	*) return 1 ;;
	esac
}

extract() {
	local img=$1 out=$2 setup_sects poff plen off fmt
	# bzImage boot protocol >= 2.08: setup_sects at 0x1f1 (0 means 4),
	# payload_offset/payload_length at 0x248/0x24c, relative to the start of
	# the protected-mode code, which follows the (setup_sects+1)*512 bytes of
	# real-mode setup. The payload is the compressed vmlinux plus a 4-byte
	# decompressed size.
	if [[ "$(od -An -c -j $((0x202)) -N4 "$img" | tr -d ' ')" == HdrS ]]; then
		setup_sects=$(read_le "$img" 1 $((0x1f1)))
		((setup_sects)) || setup_sects=4
		poff=$(read_le "$img" 4 $((0x248)))
		plen=$(read_le "$img" 4 $((0x24c)))
		off=$(((setup_sects + 1) * 512 + poff))
		if fmt=$(format_at "$img" "$off"); then
			tail -c +$((off + 1)) "$img" | head -c $((plen - 4)) |
				decompress "$fmt" >"$out" || true
			is_elf "$out" && return 0
		fi
	fi
	# Fallback, like the kernel's scripts/extract-vmlinux: try every xz, zstd
	# and gzip magic in the file until one decompresses to an ELF.
	echo "kernel.sh: bzImage header did not lead to an ELF payload; scanning" >&2
	local pat
	for pat in '\xfd7zXZ\x00' '\x28\xb5\x2f\xfd' '\x1f\x8b\x08'; do
		while read -r off; do
			fmt=$(format_at "$img" "$off") || continue
			tail -c +$((off + 1)) "$img" | decompress "$fmt" >"$out" 2>/dev/null || true
			is_elf "$out" && return 0
		done < <(grep -obUaP "$pat" "$img" | cut -d: -f1 || true)
	done
	return 1
}

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
--kver)
	resolve_kver
	exit 0
	;;
"" | -*)
	usage >&2
	exit 2
	;;
esac

outdir=$1
kver=$(resolve_kver)
mkdir -p "$outdir"
if [[ -n "${CALLBOX_VM_KERNEL:-}" ]]; then
	# Named as run.sh expects; QEMU tells a bzImage from an ELF itself.
	ln -sfn "$(realpath "$CALLBOX_VM_KERNEL/bzImage")" "$outdir/vmlinux"
	echo "$kver" >"$outdir/kver"
	exit 0
fi
img=/boot/vmlinuz-$kver
mkdir -p "$outdir"

# Cache: reuse vmlinux if it is newer than the image AND was made from the
# same version. The version check matters because dpkg gives installed files
# the package's mtime, so a kernel upgrade can bring an *older* vmlinuz.
if [[ -f "$outdir/vmlinux" && "$outdir/vmlinux" -nt "$img" &&
	"$(cat "$outdir/kver" 2>/dev/null)" == "$kver" ]]; then
	exit 0
fi

# Write to a temporary name so an interrupted run never leaves a truncated
# vmlinux that the cache check would then accept.
tmp="$outdir/vmlinux.tmp.$$"
trap 'rm -f "$tmp"' EXIT
[[ -r "$img" ]] || die "cannot read $img"
extract "$img" "$tmp" || die "could not find an xz/zstd/gzip-compressed ELF kernel in $img"
mv -f "$tmp" "$outdir/vmlinux"
echo "$kver" >"$outdir/kver"

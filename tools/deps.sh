#!/bin/bash
# Install the Debian packages callbox needs to build and to run its tests in a
# QEMU VM. Idempotent: when everything is present it only asks dpkg, which
# takes well under a second, so `make` can call it every time.
#
# Usage: tools/deps.sh [--check] [--kernel-6.12] [--debug-kernel]
#                       [--qemu-10 | --qemu-7.2]
#   --check         only report missing packages; exit 1 if any are missing
#   --kernel-6.12   also Debian's 6.12 kernel (image and headers) from
#                   bookworm-backports, for `make check-6.12`, beside the
#                   default 6.1, which stays the default
#   --debug-kernel  also what building a kernel from linux-source-6.1
#                   needs, for `make check-debug`
#   --qemu-10       as root, upgrade QEMU alone to bookworm-backports' 10.0;
#                   fail if it cannot, or if apt would move anything else.
#                   The default does the same but only notes a failure:
#                   Debian 12's QEMU 7.2 breaks residue_test's guests (see
#                   the README)
#   --qemu-7.2      leave QEMU as it is (Debian 12's is 7.2)
set -euo pipefail

# Why each one is needed:
#   qemu-system-x86     runs the test VM (TCG; this machine has no /dev/kvm)
#   linux-image-amd64   the kernel + kvm modules booted inside the VM
#   linux-headers-amd64 builds callbox.ko against that same kernel
#   busybox-static      userland of the VM's initramfs
#   cpio kmod           pack the initramfs; modprobe --show-depends for load order
#   linux-source-6.1    kselftest harness (extracted at build time)
#   libnl-3-dev libnl-genl-3-dev  static netlink client libraries for test binaries
#   sparse              `make C=1` checks
#   xz-utils            unpack the kernel image and the kernel source tarball
#   spin                model-checks the call state machine (tools/model-check.sh)
#   gcc make libc6-dev  the toolchain itself
#   clang libclang-rt-14-dev  libFuzzer (-fsanitize=fuzzer) for tools/fuzz.sh
#   libbpf-dev libelf-dev zlib1g-dev  a BPF LSM policy in the VM (lsm_test):
#                       clang builds the program, libbpf loads it (static)
#   rsync               kselftest's lib.mk installs the suites with it
#   python3-yaml        reads the netlink spec (tools/nlspec.py)
#   pkg-config          finds libnl's flags
#   iproute2 libnl-utils  genl and genl-ctrl-list, run in the VM to see the
#                       callbox family as operators see it
#   trinity             the system call fuzzer, run in the VM against
#                       /dev/callbox (trinity_test.sh)
#   dkms                builds the module as a packaged install does
#                       (tools/check-install.sh)
#   man-db groff-base   renders the man pages, to check them (check-man.sh)
#   debhelper dh-dkms lintian  build and check the .deb packages (debian/)
PACKAGES=(
	qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static cpio
	kmod linux-source-6.1 libnl-3-dev libnl-genl-3-dev sparse xz-utils gcc make
	libc6-dev spin clang libclang-rt-14-dev libbpf-dev libelf-dev zlib1g-dev
	rsync python3-yaml pkg-config iproute2 libnl-utils trinity dkms man-db
	groff-base debhelper dh-dkms lintian
)
# --debug-kernel: building the debug lane's kernel (tools/debug-kernel/):
#   flex bison bc       Kconfig and the kernel build itself
#   libssl-dev          the module signing and certificate tools
#   dwarves             pahole, which makes the BTF that lsm_test's BPF LSM
#                       program attaches by
DEBUG_KERNEL_PACKAGES=(flex bison bc libssl-dev libelf-dev dwarves)

usage() {
	sed -n '2,21s/^# \{0,1\}//p' "$0"
}

check_only=0
kernel_612=0
# 2: QEMU 10 is required (--qemu-10); 1: wanted (the default: Debian 12's
# 7.2 fails residue_test, see the README); 0: leave QEMU alone (--qemu-7.2).
qemu_10=1
for arg in "$@"; do
	case "$arg" in
	--check) check_only=1 ;;
	--kernel-6.12) kernel_612=1 ;;
	--qemu-10) qemu_10=2 ;;
	--qemu-7.2) qemu_10=0 ;;
	--debug-kernel) PACKAGES+=("${DEBUG_KERNEL_PACKAGES[@]}") ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done

# ---- --kernel-6.12 ----
# Debian 13's kernel for the 6.12 lane, on Debian 12: the versioned image
# and headers packages of bookworm-backports, named exactly. Not with
# `apt-get -t bookworm-backports install`: apt 2.6 then also upgrades the
# installed packages built from the same sources (linux-image-amd64,
# linux-headers-amd64, linux-libc-dev, linux-perf) to 6.12, and the
# default VM, which follows linux-image-amd64, would boot 6.12 too.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BACKPORTS_LINE="deb http://deb.debian.org/debian bookworm-backports main"

add_backports() {
	if ! grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		echo "deps: adding bookworm-backports to the apt sources" >&2
		echo "$BACKPORTS_LINE" >/etc/apt/sources.list.d/bookworm-backports.list
	fi
	apt-get update
}

have_kernel_612() {
	local kver
	kver=$(CALLBOX_VM_KVER=6.12 "$here/vm/kernel.sh" --kver 2>/dev/null) &&
		[[ -f "/lib/modules/$kver/build/Makefile" ]]
}

install_kernel_612() {
	local codename ver abi meta_before meta_after pkgs upgrades
	codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null || true)
	if [[ "$codename" != bookworm ]]; then
		echo "deps: --kernel-6.12 is for Debian 12 (bookworm), this is '$codename'" >&2
		exit 1
	fi
	add_backports
	# The kernel backports carries is the one its linux-image-amd64 depends
	# on: "linux-image-6.12.95+deb12-amd64 (= 6.12.95-1~bpo12+1)".
	ver=$(apt-cache madison linux-image-amd64 |
		awk -F' *[|] *' '$3 ~ /bookworm-backports/ { print $2; exit }')
	[[ -n "$ver" ]] || { echo "deps: bookworm-backports has no linux-image-amd64" >&2; exit 1; }
	abi=$(apt-cache show "linux-image-amd64=$ver" |
		sed -n 's/^Depends:.*linux-image-\([^ ,]*\).*/\1/p' | head -n1)
	if [[ "$abi" != 6.12.* ]]; then
		echo "deps: bookworm-backports has kernel '$abi', not 6.12" >&2
		exit 1
	fi
	pkgs=("linux-image-$abi" "linux-headers-$abi")
	# Refuse if the install would upgrade anything installed ("Inst NAME
	# [OLD] (NEW ...)"): it must only add the 6.12 packages.
	upgrades=$(apt-get -s install --no-install-recommends "${pkgs[@]}" |
		sed -n 's/^Inst \([^ ]*\) \[.*/\1/p')
	if [[ -n "$upgrades" ]]; then
		echo "deps: installing ${pkgs[*]} would upgrade: $(tr '\n' ' ' <<<"$upgrades"); not installing" >&2
		exit 1
	fi
	meta_before=$(dpkg-query -W -f='${Version}' linux-image-amd64 2>/dev/null || true)
	echo "deps: installing ${pkgs[*]} (bookworm-backports)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"
	meta_after=$(dpkg-query -W -f='${Version}' linux-image-amd64 2>/dev/null || true)
	if [[ "$meta_before" != "$meta_after" ]]; then
		echo "deps: linux-image-amd64 moved from $meta_before to $meta_after" >&2
		exit 1
	fi
}

kernel_612_step() {
	((kernel_612)) && ! have_kernel_612 || return 0
	if ((check_only)); then
		echo "deps: missing: Debian's 6.12 kernel image and headers (tools/deps.sh --kernel-6.12)" >&2
		exit 1
	fi
	if ((EUID != 0)); then
		echo "deps: missing: Debian's 6.12 kernel image and headers; as root, run tools/deps.sh --kernel-6.12" >&2
		exit 1
	fi
	install_kernel_612
}

# ---- --qemu-10 ----
# "qemu-system-x86/bookworm-backports" picks that version of QEMU alone
# (apt then takes its own qemu-system-common, qemu-system-data and seabios
# from there too). Not `apt-get -t bookworm-backports`, which also moved
# linux-image-amd64 to 6.12: the install is refused if it would upgrade
# anything else.
QEMU_10_ALLOWED="qemu-system-x86 qemu-system-common qemu-system-data seabios"

# Without QEMU 10 as the default asks: a note; with --qemu-10: an error.
qemu_10_unmet() {
	if ((qemu_10 == 2)); then
		echo "deps: $*" >&2
		exit 1
	fi
	echo "deps: note: $*; the test VM runs on this QEMU" >&2
}

qemu_10_step() {
	local upgrades others
	((qemu_10)) || return 0
	[[ "$(qemu-system-x86_64 --version 2>/dev/null)" == *"version 10."* ]] && return 0
	if ((check_only || EUID != 0)); then
		qemu_10_unmet "QEMU is not 10.x; as root, run tools/deps.sh --qemu-10"
		return 0
	fi
	add_backports
	upgrades=$(apt-get -s install --no-install-recommends \
		qemu-system-x86/bookworm-backports |
		sed -n 's/^Inst \([^ ]*\) .*/\1/p')
	others=$(tr ' ' '\n' <<<"$upgrades" |
		grep -vxF -f <(tr ' ' '\n' <<<"$QEMU_10_ALLOWED") || true)
	if [[ -n "$others" ]]; then
		qemu_10_unmet "QEMU 10 would also install or upgrade: $(tr '\n' ' ' <<<"$others" | sed 's/ $//'); not installing"
		return 0
	fi
	echo "deps: upgrading QEMU to bookworm-backports' ($(tr '\n' ' ' <<<"$upgrades" | sed 's/ $//'))" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		qemu-system-x86/bookworm-backports
}

missing=()
for pkg in "${PACKAGES[@]}"; do
	# dpkg-query fails for never-seen packages and prints e.g.
	# "deinstall ok config-files" for removed ones: only this string counts.
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [[ "$status" != "install ok installed" ]]; then
		missing+=("$pkg")
	fi
done

if ((${#missing[@]} == 0)); then
	kernel_612_step
	qemu_10_step
	exit 0
fi

if ((check_only)); then
	echo "deps: missing packages: ${missing[*]}" >&2
	exit 1
fi

if ((EUID != 0)); then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: not root; install them with:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}" >&2
# A fresh machine (CI) has empty package lists, so update once before installing.
# --no-install-recommends: without it qemu alone pulls in ~200 packages.
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
kernel_612_step
qemu_10_step

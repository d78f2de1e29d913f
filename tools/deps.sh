#!/bin/bash
# Install the Debian packages callbox needs to build and to run its tests in a
# QEMU VM. Idempotent: when everything is present it only asks dpkg, which
# takes well under a second, so `make` can call it every time.
#
# Usage: tools/deps.sh [--check]
#   --check   only report missing packages; exit 1 if any are missing
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
PACKAGES=(
	qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static cpio
	kmod linux-source-6.1 libnl-3-dev libnl-genl-3-dev sparse xz-utils gcc make
	libc6-dev spin clang libclang-rt-14-dev libbpf-dev libelf-dev zlib1g-dev
	rsync python3-yaml pkg-config iproute2 libnl-utils
)

usage() {
	sed -n '2,8s/^# \{0,1\}//p' "$0"
}

check_only=0
case "${1:-}" in
"") ;;
--check) check_only=1 ;;
-h | --help)
	usage
	exit 0
	;;
*)
	usage >&2
	exit 2
	;;
esac

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

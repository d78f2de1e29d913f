#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# trinity (Debian's 2023.01) against /dev/callbox, as an unprivileged
# user: CALLBOX_TRINITY_ITERATIONS (5,000) system calls from two
# children, ioctl only, on /dev/callbox and trinity's other fds. The
# oracle: trinity finishes by itself, within its time; dmesg stays clean
# (the VM runner checks); and afterwards no sandbox is left and the module
# could be unloaded (its reference count is 0).
#
# What it needs, which a bare busybox VM lacks (there its children crashed
# and it made 101 calls in 200 s): a "nobody" user in /etc/passwd for
# --dropprivs, a directory that user can write as the working directory,
# and /proc and /sys. Sandbox fds are out of its reach (they need a KVM VM
# and vCPU first): ioctl_fuzz covers those.
#
# Even so, Debian's trinity 2023.01 often crashes itself while it sets up,
# before it starts its children: trinity-main exits with SIGSEGV after
# about 12 s, in 6 runs of 10 measured here, with or without its socket
# cache. trinity-main makes no ioctl (its children do), so such an attempt
# says nothing about callbox, and is tried again, up to MAX_ATTEMPTS times,
# the count reported. Any other ending fails. (Without its socket fds,
# --disable-fds=sockets, it never crashed but wedged in 5 runs of 5:
# trinity-main waited for children it never started.)
ITERATIONS=${CALLBOX_TRINITY_ITERATIONS:-5000}
. "$(dirname "$0")/tap.sh"

if ! command -v trinity >/dev/null || [ ! -c /dev/callbox ]; then
	tap_skip "needs trinity and /dev/callbox"
	tap_totals
	exit
fi

# A user to drop to; the VM has no /etc/passwd of its own.
[ -f /etc/passwd ] || echo 'root:x:0:0:root:/:/bin/sh' >/etc/passwd
grep -q '^nobody:' /etc/passwd ||
	echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >>/etc/passwd
[ -f /etc/group ] || printf 'root:x:0:\nnogroup:x:65534:\n' >/etc/group

# Let that user open the device, for the run only.
mode=$(stat -c %a /dev/callbox)
dir=$(mktemp -d)
trap 'chmod "$mode" /dev/callbox; rm -rf "$dir"' EXIT
chmod 666 /dev/callbox
chown 65534 "$dir"
cd "$dir" || exit 1

# --dropprivs waits 10 s before it starts; a run takes 30 to 45 s.
MAX_ATTEMPTS=10
attempt=0
crashed=0
while :; do
	attempt=$((attempt + 1))
	out=$(timeout 300 trinity -q -l off -C 2 -N "$ITERATIONS" -c ioctl \
		-V /dev/callbox -X 2>&1)
	rc=$?
	ran=$(echo "$out" | sed -n 's/.*Ran \([0-9]*\) syscalls.*/\1/p' |
		tail -n 1)
	# 139: trinity-main's own SIGSEGV, before any "Ran" line.
	[ $rc -eq 139 ] && [ -z "$ran" ] && [ $attempt -lt $MAX_ATTEMPTS ] ||
		break
	crashed=$((crashed + 1))
done
echo "$out" | tail -n 5 | sed 's/^/# /'
if [ $rc -eq 0 ] && [ "${ran:-0}" -ge "$ITERATIONS" ]; then
	ok "trinity made $ran ioctls as nobody and finished (attempt $attempt; $crashed crashed in trinity's setup)"
else
	not_ok "trinity exited with status $rc after ${ran:-no} syscalls (attempt $attempt)"
fi

sandboxes=$(cat /sys/class/misc/callbox/sandboxes)
if [ "$sandboxes" = 0 ]; then
	ok "no sandbox left"
else
	not_ok "$sandboxes sandboxes left"
fi
refcnt=$(cat /sys/module/callbox/refcnt)
if [ "$refcnt" = 0 ]; then
	ok "the module could be unloaded (refcnt 0)"
else
	not_ok "module refcnt $refcnt after trinity exited"
fi
tap_totals

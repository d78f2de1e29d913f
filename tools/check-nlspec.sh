#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The netlink family's spec and what is generated from it agree: the
# uapi header and the kernel's policies are what tools/nlspec.py makes of
# Documentation/netlink/specs/callbox.yaml today. And the check can fail:
# a spec changed behind the generated files' back is caught.
#
# Prints kselftest-style TAP with a "# Totals:" line; exits 1 on a failure.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
spec=Documentation/netlink/specs/callbox.yaml
generated=(uapi/linux/callbox_netlink.h kmod/netlink_policy.h
	kmod/netlink_policy.c)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. selftests/vm/tap.sh

echo "TAP version 13"
tools/nlspec.py --check "$spec" "${generated[@]}"
tap_result $? "the generated files are what the spec says (make nlspec)"

# Each mutation of the spec must make the same check fail.
drift() {
	local what=$1 expr=$2
	sed -e "$expr" "$spec" >"$tmp/spec.yaml"
	if cmp -s "$spec" "$tmp/spec.yaml"; then
		echo "# the mutation changed nothing: $expr"
		tap_result 1 "drift caught: $what"
		return
	fi
	! tools/nlspec.py --check "$tmp/spec.yaml" "${generated[@]}" 2>/dev/null
	tap_result $? "drift caught: $what"
}
drift "an attribute renamed" 's/name: owner-uid$/name: owner-euid/'
drift "an enum value moved" '0,/value: 1$/s//value: 2/'
drift "an operation added" 's/name: event-ntf$/name: event-ntf\n    -\n      name: sandbox-set/'
drift "a check changed" 's/min: 1$/min: 2/'

# The uapi header stands alone, for C and C++ users.
printf '#include <linux/callbox_netlink.h>\nint x = CALLBOX_NL_CMD_MAX;\n' \
	>"$tmp/t.c"
gcc -Wall -Wextra -Werror -Iuapi -fsyntax-only "$tmp/t.c"
tap_result $? "uapi/linux/callbox_netlink.h compiles on its own"

tap_totals

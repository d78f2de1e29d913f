#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The "callbox" generic netlink family as operators see it, through the
# stock tools: iproute2's `genl ctrl get name callbox` and libnl-utils'
# `genl-ctrl-list --details` must both show the family at version 1 with
# max attribute 12 (CALLBOX_NL_A_SANDBOX_MAX), its one request
# (SANDBOX_GET, 0x1: do, dump and policy), and its one multicast group,
# "events", under the same family and group ids in both.
#
# The tools are dynamic programs: the VM needs them and their libraries
# (tools/vm/run.sh --add and --add-libs). Missing, they fail this suite.
#
# Prints kselftest-style TAP and the same "# Totals:" line as the C suites.
GENL=${GENL:-genl}
GENL_CTRL_LIST=${GENL_CTRL_LIST:-genl-ctrl-list}
. "$(dirname "$0")/tap.sh"

# check NAME CONDITION-COMMAND...: one TAP line.
check() {
	name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# How many lines of $1 match the extended regex $2.
count() {
	printf '%s\n' "$1" | grep -cE -- "$2"
}

echo "TAP version 13"

# ---- iproute2 ----
if ! genl_out=$($GENL ctrl get name callbox 2>&1); then
	echo "# $GENL ctrl get name callbox failed:"
	printf '%s\n' "$genl_out" | sed 's/^/# /'
	genl_out=
fi
printf '%s\n' "$genl_out" | sed 's/^/# genl: /'

check "genl: the family is named callbox" \
	test "$(count "$genl_out" '^Name: callbox$')" -eq 1
# "ID: 0x20  Version: 0x1  header size: 0  max attribs: 12"
genl_id=$(printf '%s\n' "$genl_out" |
	sed -nE 's/^[[:space:]]*ID: (0x[0-9a-f]+)  Version: 0x1  header size: 0  max attribs: 12 *$/\1/p')
check "genl: version 1, no header, max attribute 12" test -n "$genl_id"
# Commands come as "#N:  ID-0xC": exactly one, SANDBOX_GET.
check "genl: one command, 0x1" \
	test "$(count "$genl_out" '^[[:space:]]+#[0-9]+:  ID-0x[0-9a-f]+ *$')" -eq 1 -a \
	"$(count "$genl_out" '^[[:space:]]+#[0-9]+:  ID-0x1 *$')" -eq 1
check "genl: one multicast group, events" \
	test "$(count "$genl_out" 'name: ')" -eq 1 -a \
	"$(count "$genl_out" '^[[:space:]]+#1:  ID-0x[0-9a-f]+  name: events *$')" -eq 1
genl_grp=$(printf '%s\n' "$genl_out" |
	sed -nE 's/^[[:space:]]+#[0-9]+:  ID-(0x[0-9a-f]+)  name: events *$/\1/p')

# A family that is not there is an error: the tool does look.
check "genl: an absent family fails" \
	sh -c "! $GENL ctrl get name callbox_absent >/dev/null 2>&1"

# ---- libnl-utils ----
if ! list_out=$($GENL_CTRL_LIST --details 2>&1); then
	echo "# $GENL_CTRL_LIST --details failed:"
	printf '%s\n' "$list_out" | sed 's/^/# /'
	list_out=
fi
# The callbox block: from its "0xID callbox version V" line to the next
# family's.
block=$(printf '%s\n' "$list_out" |
	awk '/^0x[0-9a-f]+ / { in_block = ($2 == "callbox") } in_block')
printf '%s\n' "$block" | sed 's/^/# genl-ctrl-list: /'

check "genl-ctrl-list: the family, version 1" \
	test "$(count "$list_out" '^0x[0-9a-f]+ callbox version 1$')" -eq 1
list_id=$(printf '%s\n' "$block" | sed -nE 's/^(0x[0-9a-f]+) callbox .*/\1/p')
check "genl-ctrl-list: no header, max attribute 12" \
	test "$(count "$block" '^ +hdrsize 0 maxattr 12$')" -eq 1
check "genl-ctrl-list: one op, 0x01, with do, dump and policy" \
	test "$(count "$block" '^ +op ')" -eq 1 -a \
	"$(count "$block" '^ +op [A-Za-z_]+ \(0x01\) <has_doit,has_dump,has_policy>$')" -eq 1
check "genl-ctrl-list: one group, events" \
	test "$(count "$block" '^ +grp ')" -eq 1 -a \
	"$(count "$block" '^ +grp events \(0x[0-9a-f]+\)$')" -eq 1
list_grp=$(printf '%s\n' "$block" |
	sed -nE 's/^ +grp events \((0x[0-9a-f]+)\)$/\1/p')

# ---- the two agree ----
check "the family id is the same in both ($genl_id, $list_id)" \
	test -n "$genl_id" -a -n "$list_id" -a \
	"$((genl_id))" -eq "$((${list_id:-0}))"
check "the events group id is the same in both ($genl_grp, $list_grp)" \
	test -n "$genl_grp" -a -n "$list_grp" -a \
	"$((${genl_grp:-0}))" -eq "$((${list_grp:-0}))"

tap_totals

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (see tools/check.sh): every selftest suite, each
# introduced by a "=== suite NAME" line so the host can tell a suite that
# never finished from one that passed.
rc=0
for t in /selftests/*_test /selftests/*_test.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t")
	echo "=== suite $name"
	case "$t" in
	*.sh) sh "$t" || rc=1 ;;
	*) "$t" || rc=1 ;;
	esac
done
exit $rc

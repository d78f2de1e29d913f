#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fuzz the wire format's decoder (shared/wire.c) with libFuzzer, under
# ASan and UBSan, for a bounded time. Prints a kselftest-style "ok 1" /
# "not ok 1" line and one "# Totals:" line; exits 0 iff the build worked
# and nothing crashed (a crash includes the round-trip oracle of
# selftests/fuzz/wire_fuzz.c failing).
#
# The fuzzer runs on a copy of selftests/fuzz/corpus/wire in build/fuzz/,
# so the new inputs it finds do not land in the repository. A crashing
# input is saved as build/fuzz/artifacts/crash-*; reproduce it with
#   build/fuzz/wire_fuzz build/fuzz/artifacts/crash-...
#
# Usage: tools/fuzz.sh
#   FUZZ_SECONDS  how long to fuzz; default 20
#   CLANG         the compiler; default clang (needs libclang-rt-14-dev)
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

seconds=${FUZZ_SECONDS:-20}
clang=${CLANG:-clang}
work=build/fuzz
bin=$work/wire_fuzz
corpus=$work/corpus-wire
log=$work/wire_fuzz.log

if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
	echo "fuzz: FUZZ_SECONDS must be a positive integer, not '$seconds'" >&2
	exit 2
fi

echo "TAP version 13"
echo "1..1"

finish() {
	local ok=$1
	shift
	if ((ok)); then
		echo "ok 1 $*"
		echo "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"
		exit 0
	fi
	echo "not ok 1 $*"
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	exit 1
}

mkdir -p "$work/artifacts"
# -fno-sanitize-recover: a UBSan finding must crash, or libFuzzer would
# carry on past it and report success.
if ! "$clang" -g -O1 -std=gnu11 -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Ishared/include -Iguest/include -o "$bin" selftests/fuzz/wire_fuzz.c shared/wire.c \
	>"$work/build.log" 2>&1; then
	sed 's/^/# /' "$work/build.log"
	finish 0 "wire decoder: build failed (clang and libclang-rt-14-dev: tools/deps.sh)"
fi

rm -rf "$corpus"
cp -r selftests/fuzz/corpus/wire "$corpus"

# libFuzzer stops itself at -max_total_time; timeout is only a backstop
# for a hang it cannot break out of. -timeout: one input taking seconds
# is a bug in a decoder of messages this small.
timeout $((seconds + 60)) "$bin" -max_total_time="$seconds" -timeout=10 \
	-max_len=4096 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$corpus" >"$log" 2>&1
rc=$?

runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" |
	tail -n 1)
if ((rc != 0)); then
	# What went wrong, and the input that did it.
	grep -E 'ERROR|SUMMARY|wire_fuzz:|Test unit written|runtime error' \
		"$log" | head -n 20 | sed 's/^/# /'
	((rc == 124)) && echo "# the fuzzer hung past its time limit"
	echo "# full log: $log"
	finish 0 "wire decoder fuzzed: crashed (exit $rc) after ${runs:-?} runs"
fi
finish 1 "wire decoder fuzzed for $seconds s (${runs:-?} runs)"

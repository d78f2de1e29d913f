#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Model-check the call state machine with spin, exhaustively, and check
# that the model and the kernel share one transition table. Prints
# kselftest-style "ok N ..." / "not ok N ..." lines and one "# Totals:"
# line; exits 0 iff every check passes. Work files go to build/model/.
#
#   1. model/callbox.pml's init_next_states() and kmod/call.c's
#      callbox_call_next_states[] are the same set of edges;
#   2. the model: no assertion fails and no invalid end state (deadlock)
#      in a complete search of every state (no bitstate hashing, no depth
#      limit hit);
#   3. the model: every statement is reachable, so no branch is vacuous;
#   4-8. negative controls, each must be caught: the Hyperlight #373
#      protocol, a CALL_CANCEL that ignores its call id, a RESET whose
#      lifted poison stays lifted when its init call does not EXIT (a call
#      then enters a guest still at its boot entry), a RUN that ignores a
#      restore in progress, and a C table that lets an EXITED call be
#      entered again.
#
# Usage: tools/model-check.sh [CALL_C]
#   CALL_C  the C file with callbox_call_next_states[]; default
#           $CALLBOX_CALL_C, else kmod/call.c (an argument, to test check 1);
#           $CALLBOX_MODEL overrides model/callbox.pml the same way
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=${CALLBOX_MODEL:-$root/model/callbox.pml}
call_c=${1:-${CALLBOX_CALL_C:-$root/kmod/call.c}}
work=$root/build/model

# pan: exhaustive safety search (assertions and invalid end states), no
# partial-order reduction (the model's Final process uses timeout), and a
# bound on memory and time so a state-space blow-up fails instead of
# hanging. spin -o3 keeps every statement apart in pan -d, for check 3.
SPIN_FLAGS=(-o3)
PAN_CFLAGS=(-O2 -DSAFETY -DNOREDUCE -DMEMLIM=4096)
PAN_RUN_FLAGS=(-m1000000)
PAN_TIMEOUT=300

TESTS=8
n=0
pass=0
fail=0

result() {
	local ok=$1
	shift
	n=$((n + 1))
	if ((ok)); then
		pass=$((pass + 1))
		echo "ok $n $*"
	else
		fail=$((fail + 1))
		echo "not ok $n $*"
	fi
}

diag() {
	sed 's/^/# /'
}

indent() {
	sed 's/^/  /'
}

# The edges "FROM -> TO" of the first table in $1 that starts on a line
# matching $2 and ends on the next line starting with "}". Entries are
# "[STATE] = BIT(STATE) | ..." or "[STATE] = 0", separated by "," or ";",
# with an optional array name before "[" and CALLBOX_STATE_ prefixes
# dropped; anything else is an error, so that the check cannot silently
# read less than the table says.
table_edges() {
	local file=$1 start=$2 out
	out=$(START=$start awk '
	function norm(s) {
		sub(/^CALLBOX_STATE_/, "", s)
		return s
	}
	function bad(msg) {
		print FILENAME ": " msg > "/dev/stderr"
		err = 1
	}
	!on && !found && $0 ~ ENVIRON["START"] { on = 1; found = 1 }
	on {
		sub(/\/\/.*/, "")
		buf = buf " " $0
		if ($0 ~ /^}/)
			on = 0
	}
	END {
		if (!found) {
			bad("no table matching /" ENVIRON["START"] "/")
			exit 2
		}
		if (buf ~ /#/) {
			bad("a preprocessor directive inside the table")
			exit 2
		}
		while (match(buf, /\/\*/)) {
			rest = substr(buf, RSTART + 2)
			e = index(rest, "*/")
			if (!e) {
				bad("unterminated comment in the table")
				exit 2
			}
			buf = substr(buf, 1, RSTART - 1) " " substr(rest, e + 2)
		}
		i = index(buf, "{")
		if (!i) {
			bad("no { in the table")
			exit 2
		}
		buf = substr(buf, i + 1)
		sub(/}[^}]*$/, "", buf)
		gsub(/[ \t\r\n]/, "", buf)
		nent = split(buf, ent, /[,;]/)
		rows = 0
		for (j = 1; j <= nent; j++) {
			x = ent[j]
			if (x == "")
				continue
			if (!match(x, /^[A-Za-z_0-9]*\[[A-Za-z_0-9]+\]=/)) {
				bad("cannot parse entry \"" x "\"")
				continue
			}
			lhs = substr(x, 1, RLENGTH - 1)
			rhs = substr(x, RLENGTH + 1)
			sub(/^[A-Za-z_0-9]*\[/, "", lhs)
			sub(/\]$/, "", lhs)
			rows++
			if (rhs == "0")
				continue
			nt = split(rhs, t, "|")
			for (q = 1; q <= nt; q++) {
				if (t[q] !~ /^BIT\([A-Za-z_0-9]+\)$/) {
					bad("cannot parse entry \"" x "\"")
					continue
				}
				to = substr(t[q], 5, length(t[q]) - 5)
				print norm(lhs) " -> " norm(to)
			}
		}
		if (!rows)
			bad("empty table")
		exit err ? 2 : 0
	}' "$file") || return 1
	sort -u <<<"$out"
}

# Compare the C table in $1 with the model's. Prints the two edge sets on
# a mismatch (to stdout, for diag). Returns 0 if they are the same set.
compare_tables() {
	local c_file=$1 c_edges m_edges
	c_edges=$(table_edges "$c_file" 'callbox_call_next_states\[\][ \t]*=') ||
		return 1
	m_edges=$(table_edges "$model" '^inline[ \t]+init_next_states[ \t]*\(') ||
		return 1
	if [[ "$c_edges" == "$m_edges" ]]; then
		return 0
	fi
	echo "C table ($c_file):"
	indent <<<"$c_edges"
	echo "model table ($model):"
	indent <<<"$m_edges"
	echo "only in C:"
	comm -23 <(echo "$c_edges") <(echo "$m_edges") | indent
	echo "only in the model:"
	comm -13 <(echo "$c_edges") <(echo "$m_edges") | indent
	return 1
}

# Build and run pan for the model with cpp defines $2... in $work/$1.
# Leaves pan.out there; returns non-zero if spin, gcc or pan failed to run.
run_pan() {
	local dir=$work/$1
	shift
	rm -rf "$dir" && mkdir -p "$dir" && cp "$model" "$dir/callbox.pml" ||
		return 1
	(
		cd "$dir" || exit 1
		if ! spin "${SPIN_FLAGS[@]}" "$@" -a callbox.pml >spin.log 2>&1; then
			echo "spin -a failed:"
			cat spin.log
			exit 1
		fi
		if ! gcc "${PAN_CFLAGS[@]}" -o pan pan.c >gcc.log 2>&1; then
			echo "gcc pan.c failed:"
			cat gcc.log
			exit 1
		fi
		timeout "$PAN_TIMEOUT" ./pan "${PAN_RUN_FLAGS[@]}" >pan.out 2>&1
		rc=$?
		if ((rc == 124)); then
			echo "pan did not finish in ${PAN_TIMEOUT}s"
			exit 1
		fi
		# pan exits non-zero when it found an error: that is read from
		# pan.out, not from here.
		exit 0
	) | diag
	return "${PIPESTATUS[0]}"
}

# Numbers from a pan report.
pan_stat() {
	local out=$1 what=$2
	case $what in
	states) sed -nE 's/^ *([0-9e+.]+) states, stored.*/\1/p' "$out" ;;
	depth) sed -nE 's/.*depth reached ([0-9]+),.*/\1/p' "$out" ;;
	transitions) sed -nE 's/^ *([0-9e+.]+) transitions.*/\1/p' "$out" ;;
	memory) sed -nE 's/^ *([0-9.]+)[ \t]+total actual memory usage.*/\1/p' "$out" ;;
	time) sed -nE 's/^pan: elapsed time ([0-9.e+]+) seconds.*/\1/p' "$out" ;;
	esac
}

# Did pan search every state without finding an error?
pan_clean() {
	local out=$1
	grep -q '^Full statespace search for:' "$out" &&
		grep -qE '^[[:space:]]*assertion violations[[:space:]]+\+' "$out" &&
		grep -qE '^[[:space:]]*invalid end states[[:space:]]+\+' "$out" &&
		grep -qE 'errors: 0$' "$out" &&
		! grep -qE 'max search depth too small|Search not completed|out of memory|MEMLIM' "$out"
}

# The INVn tag of the assertion a mutant violated, from its error trail.
violated_tag() {
	local dir=$1 line tag
	shift
	line=$(cd "$dir" && spin -t "$@" callbox.pml 2>&1 |
		sed -nE 's/^spin: callbox\.pml:([0-9]+), Error: assertion violated.*/\1/p' |
		head -n 1)
	[[ -n "$line" ]] || return 1
	tag=$(sed -n "${line}p" "$dir/callbox.pml" | grep -oE 'INV[0-9]+' | head -n 1)
	echo "${tag:-untagged} at callbox.pml:$line"
}

# Run mutant $1 (cpp define) and expect an assertion tagged with one of $2
# (a regex such as "INV3" or "INV5|INV6") to fail.
check_mutant() {
	local define=$1 expect=$2 desc=$3 dir=$work/mutant-${1,,} found
	if ! run_pan "mutant-${define,,}" "-D$define"; then
		result 0 "$desc (did not run)"
		return
	fi
	if ! grep -q 'assertion violated' "$dir/pan.out"; then
		grep -E 'errors:|invalid end state' "$dir/pan.out" | diag
		result 0 "$desc (spin found no assertion violation)"
		return
	fi
	found=$(violated_tag "$dir" "-D$define") || found="no trail"
	grep -m1 'assertion violated' "$dir/pan.out" | diag
	if [[ "$found" =~ ^($expect)\  ]]; then
		result 1 "$desc ($found)"
	else
		result 0 "$desc (expected $expect, got $found)"
	fi
}

mkdir -p "$work" || exit 1
echo "TAP version 13"
echo "1..$TESTS"

have_spin=1
if ! command -v spin >/dev/null; then
	echo "# spin is not installed (tools/deps.sh installs it)"
	have_spin=0
fi

# ---- 1. one transition table ----
if compare_tables "$call_c" >"$work/table.log" 2>&1; then
	result 1 "table: $(basename "$call_c") and the model allow the same transitions"
else
	diag <"$work/table.log"
	result 0 "table: $(basename "$call_c") and the model allow the same transitions"
fi

# ---- 2. the model ----
main=$work/main
main_ok=0
if ((have_spin)) && run_pan main; then
	main_ok=1
fi
if ((main_ok)) && pan_clean "$main/pan.out"; then
	result 1 "model: no assertion violation, no invalid end state;" \
		"$(pan_stat "$main/pan.out" states) states," \
		"$(pan_stat "$main/pan.out" transitions) transitions," \
		"depth $(pan_stat "$main/pan.out" depth), complete," \
		"$(pan_stat "$main/pan.out" time) s, $(pan_stat "$main/pan.out" memory) MB"
else
	if ((main_ok)); then
		grep -E 'assertion violated|invalid end state|errors:|Search not|max search|MEMLIM|memory' \
			"$main/pan.out" | diag
		main_ok=0
	fi
	result 0 "model: no assertion violation, no invalid end state"
fi

# ---- 3. no vacuous branch ----
# A line is dead when every state whose one statement is on that line
# went unreached. States with several options (if/do) are left out: the
# statement after a guard shows whether its option ever ran (so an option
# that is only "guard -> skip" is not checked).
if ((main_ok)) && (cd "$main" && ./pan -d >pan.d 2>&1); then
	dead=$(awk '
	FNR == NR {
		if ($1 == "proctype")
			proc = $2
		else if ($1 == "init")
			proc = ":init:"
		else if ($1 == "state" && match($0, /\.pml:[0-9]+ =>/)) {
			k = proc SUBSEP ($2 + 0)
			ntr[k]++
			lineof[k] = substr($0, RSTART + 5, RLENGTH - 8) + 0
		}
		next
	}
	/^unreached in proctype / { proc = $4; next }
	/^unreached in init/ { proc = ":init:"; next }
	/^\t[^ ]+\.pml:[0-9]+, state [0-9]+,/ {
		if ($0 ~ /"-end-"/)
			next
		split($0, f, /[:,]/)
		split(f[3], g, " ")
		unreached[proc SUBSEP (g[2] + 0)] = 1
	}
	END {
		for (k in ntr) {
			if (ntr[k] != 1)
				continue
			total[lineof[k]]++
			if (k in unreached)
				dead[lineof[k]]++
		}
		for (l in total)
			if (dead[l] == total[l])
				print l
	}' "$main/pan.d" "$main/pan.out" | sort -n)
	if [[ -z "$dead" ]]; then
		result 1 "model: every statement is reached"
	else
		for l in $dead; do
			echo "never reached: callbox.pml:$l: $(sed -n "${l}p" "$model" | sed 's/^[ \t]*//')"
		done | diag
		result 0 "model: every statement is reached"
	fi
else
	result 0 "model: every statement is reached (no complete run)"
fi

# ---- 4-7. negative controls ----
if ((have_spin)); then
	check_mutant BUG_HYPERLIGHT INV3 \
		"mutant: hyperlight running-flag protocol is caught"
	check_mutant BUG_CANCEL_NO_ID 'INV5|INV6' \
		"mutant: a cancel that ignores the call id (stale cancel hits the next call) is caught"
	check_mutant BUG_RESET_UNPOISONS INV9 \
		"mutant: a RESET whose init call can fail without poisoning (a call enters a guest at its boot entry) is caught"
	check_mutant BUG_RESTORE_NO_FENCE 'INV11|INV7' \
		"mutant: a RUN that ignores a restore in progress (a call enters a half-restored guest) is caught"
else
	result 0 "mutant: hyperlight running-flag protocol is caught (no spin)"
	result 0 "mutant: a cancel that ignores the call id is caught (no spin)"
	result 0 "mutant: a RESET whose init call can fail without poisoning is caught (no spin)"
	result 0 "mutant: a RUN that ignores a restore in progress is caught (no spin)"
fi

# The C table with one more edge, EXITED -> ENTERED: check 1 must fail.
mutant_c=$work/call-exited-entered.c
desc="mutant: a C table that allows EXITED->ENTERED is rejected"
if sed -E 's/^([ \t]*\[CALLBOX_STATE_EXITED\][ \t]*=[ \t]*)0,/\1BIT(CALLBOX_STATE_ENTERED),/' \
	"$call_c" >"$mutant_c" && ! cmp -s "$call_c" "$mutant_c"; then
	if compare_tables "$mutant_c" >"$work/table-mutant.log" 2>&1; then
		result 0 "$desc (the table check passed it)"
	# Read whole first: grep -q in a pipe can SIGPIPE sed (pipefail).
	elif grep -qx '  EXITED -> ENTERED' <<<"$(sed -n \
		'/^only in C:/,/^only in the model:/p' "$work/table-mutant.log")"; then
		result 1 "$desc"
	else
		diag <"$work/table-mutant.log"
		result 0 "$desc (rejected for another reason)"
	fi
else
	result 0 "$desc (no \"[CALLBOX_STATE_EXITED] = 0,\" in $call_c to mutate)"
fi

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
((fail == 0 && n == TESTS))

// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox CLI: `callbox ps [--json] [SANDBOX-ID]`, the sandboxes of every
 * process as the kernel sees them, like ps: one line each; or one
 * sandbox with its live calls and its last ended ones.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_ps_usage(FILE *f)
{
	fputs("Usage: callbox ps [--json] [SANDBOX-ID]\n"
	      "\n"
	      "Without SANDBOX-ID, list every sandbox you may see, one a line:\n"
	      "  ID       the kernel's id of the sandbox (not its fd)\n"
	      "  PID UID  the process that created it, and its uid\n"
	      "  STATE    idle, running (a call is in the guest or in a host\n"
	      "           function), poisoned (calls are refused until a reset\n"
	      "           or a restore), restoring (the guest is being put back\n"
	      "           to a snapshot) or shutdown\n"
	      "  AGE      since it was created\n"
	      "  CALLS EXITED ABORTED  calls made on it (init calls included),\n"
	      "           and how many of them ended EXITED and ABORTED\n"
	      "  CURRENT  the call in the guest or in a host function, or -\n"
	      "\n"
	      "With SANDBOX-ID, show that sandbox, then its live calls (ID, STATE,\n"
	      "FLAGS, AGE, the RUNNER thread in KVM_RUN, the time left until its\n"
	      "DEADLINE) and its last ended calls, oldest first (ID, STATE, REASON,\n"
	      "FLAGS, whether guest code ran, and the states each entered, with\n"
	      "their times from its queueing).\n"
	      "\n"
	      "Options:\n"
	      "  -j, --json       print JSON instead: without SANDBOX-ID an array\n"
	      "                   of sandbox objects {id, owner_pid, owner_uid,\n"
	      "                   state, age_ns, calls, exited, aborted,\n"
	      "                   current_call}; with it one such object with\n"
	      "                   live_calls and recent_calls, arrays of call\n"
	      "                   objects {id, state, reason, flags, age_ns,\n"
	      "                   runner_tid, deadline_left_ns, transitions:\n"
	      "                   [{state, time_ns}], transitions_total}. Times are\n"
	      "                   in ns (time_ns on CLOCK_MONOTONIC); null where\n"
	      "                   there is none.\n"
	      "  -h, --help       show this help\n"
	      "\n"
	      "Without CAP_SYS_ADMIN you see the sandboxes of your own uid only.\n"
	      "Needs callbox.ko loaded (its generic netlink family \"callbox\").\n"
	      "Exit status: 0 on success, 1 if the sandbox does not exist (or is not\n"
	      "yours) or the kernel could not be asked, 2 on bad usage.\n", f);
}

/* ---- text ---- */

static void print_sandbox_line(const struct callbox_sandbox_status *s)
{
	char state[32], age[32], current[32] = "-";

	if (s->current_call)
		snprintf(current, sizeof(current), "%" PRIu64,
			 s->current_call);
	printf("%-6" PRIu64 " %-7" PRIu32 " %-6" PRIu32 " %-9s %-8s %6" PRIu64
	       " %7" PRIu64 " %7" PRIu64 " %s\n",
	       s->id, s->owner_pid, s->owner_uid,
	       cli_sandbox_state(s->state, state, sizeof(state)),
	       cli_duration(s->age_ns, age, sizeof(age)), s->nr_calls,
	       s->nr_exited, s->nr_aborted, current);
}

static void print_sandbox_header(void)
{
	printf("%-6s %-7s %-6s %-9s %-8s %6s %7s %7s %s\n", "ID", "PID",
	       "UID", "STATE", "AGE", "CALLS", "EXITED", "ABORTED",
	       "CURRENT");
}

static void print_live_call(const struct callbox_call_status *c)
{
	char state[32], flags[CLI_FLAGS_MAX], age[32], runner[32] = "-";
	char deadline[32] = "-";

	if (c->runner_tid)
		snprintf(runner, sizeof(runner), "%" PRId32, c->runner_tid);
	if (c->deadline_left_ns == 0)
		snprintf(deadline, sizeof(deadline), "passed");
	else if (c->deadline_left_ns > 0)
		cli_duration(c->deadline_left_ns, deadline, sizeof(deadline));
	printf("%-6" PRIu64 " %-9s %-16s %-8s %-7s %s\n", c->id,
	       cli_call_state(c->state, state, sizeof(state)),
	       cli_call_flags(c->flags, flags, sizeof(flags)),
	       cli_duration(c->age_ns, age, sizeof(age)), runner, deadline);
}

/*
 * The states an ended call entered, with their times from the first
 * (its queueing): "QUEUED 0 ENTERED +12.0us EXITED +340.0us"; "..."
 * where the kernel kept no record of some.
 */
static void print_transitions(const struct callbox_call_status *c)
{
	const struct callbox_transition *t = c->transitions;
	char state[32], when[32];
	uint32_t i;

	if (!c->nr_transitions) {
		fputs("-", stdout);
		return;
	}
	for (i = 0; i < c->nr_transitions; i++) {
		if (i == c->nr_transitions - 1 &&
		    c->transitions_total > c->nr_transitions)
			fputs(" ...", stdout);
		printf("%s%s ", i ? " " : "",
		       cli_call_state(t[i].state, state, sizeof(state)));
		if (!i)
			fputs("0", stdout);
		else
			printf("+%s", cli_duration(t[i].time_ns - t[0].time_ns,
						   when, sizeof(when)));
	}
}

static void print_recent_call(const struct callbox_call_status *c)
{
	char state[32], reason[32], flags[CLI_FLAGS_MAX];

	printf("%-6" PRIu64 " %-9s %-15s %-16s %-9s ", c->id,
	       cli_call_state(c->state, state, sizeof(state)),
	       c->state == CALLBOX_STATE_ABORTED ?
	       cli_abort_reason(c->reason, reason, sizeof(reason)) : "-",
	       cli_call_flags(c->flags, flags, sizeof(flags)),
	       c->flags & CALLBOX_CALL_GUEST_RAN ? "yes" : "no");
	print_transitions(c);
	putchar('\n');
}

static void print_sandbox(const struct callbox_sandbox_status *s)
{
	char state[32], age[32];
	size_t i;

	printf("sandbox %" PRIu64 ": pid %" PRIu32 ", uid %" PRIu32
	       ", %s, age %s\n",
	       s->id, s->owner_pid, s->owner_uid,
	       cli_sandbox_state(s->state, state, sizeof(state)),
	       cli_duration(s->age_ns, age, sizeof(age)));
	printf("calls: %" PRIu64 " (%" PRIu64 " exited, %" PRIu64 " aborted)",
	       s->nr_calls, s->nr_exited, s->nr_aborted);
	if (s->current_call)
		printf(", current call %" PRIu64, s->current_call);
	putchar('\n');

	printf("\nlive calls:%s\n", s->nr_live ? "" : " none");
	if (s->nr_live)
		printf("%-6s %-9s %-16s %-8s %-7s %s\n", "ID", "STATE",
		       "FLAGS", "AGE", "RUNNER", "DEADLINE");
	for (i = 0; i < s->nr_live; i++)
		print_live_call(&s->live[i]);

	printf("\nrecent calls, oldest first:%s\n", s->nr_recent ? "" : " none");
	if (s->nr_recent)
		printf("%-6s %-9s %-15s %-16s %-9s %s\n", "ID", "STATE",
		       "REASON", "FLAGS", "GUEST-RAN", "STATES (time from queueing)");
	for (i = 0; i < s->nr_recent; i++)
		print_recent_call(&s->recent[i]);
}

/* ---- JSON ---- */

static void json_sandbox_fields(const struct callbox_sandbox_status *s)
{
	char state[32];

	printf("\"id\":%" PRIu64 ",\"owner_pid\":%" PRIu32
	       ",\"owner_uid\":%" PRIu32 ",\"state\":",
	       s->id, s->owner_pid, s->owner_uid);
	cli_json_string(stdout, cli_sandbox_state(s->state, state,
						  sizeof(state)));
	printf(",\"age_ns\":%" PRIu64 ",\"calls\":%" PRIu64
	       ",\"exited\":%" PRIu64 ",\"aborted\":%" PRIu64
	       ",\"current_call\":",
	       s->age_ns, s->nr_calls, s->nr_exited, s->nr_aborted);
	if (s->current_call)
		printf("%" PRIu64, s->current_call);
	else
		fputs("null", stdout);
}

static void json_call(const struct callbox_call_status *c)
{
	char name[32];
	uint32_t i;

	printf("{\"id\":%" PRIu64 ",\"state\":", c->id);
	cli_json_string(stdout, cli_call_state(c->state, name, sizeof(name)));
	fputs(",\"reason\":", stdout);
	if (c->state == CALLBOX_STATE_ABORTED)
		cli_json_string(stdout, cli_abort_reason(c->reason, name,
							 sizeof(name)));
	else
		fputs("null", stdout);
	fputs(",\"flags\":", stdout);
	cli_json_flags(stdout, c->flags);
	printf(",\"age_ns\":%" PRIu64 ",\"runner_tid\":", c->age_ns);
	if (c->runner_tid)
		printf("%" PRId32, c->runner_tid);
	else
		fputs("null", stdout);
	fputs(",\"deadline_left_ns\":", stdout);
	if (c->deadline_left_ns >= 0)
		printf("%" PRId64, c->deadline_left_ns);
	else
		fputs("null", stdout);
	fputs(",\"transitions\":[", stdout);
	for (i = 0; i < c->nr_transitions; i++) {
		printf("%s{\"state\":", i ? "," : "");
		cli_json_string(stdout, cli_call_state(c->transitions[i].state,
						       name, sizeof(name)));
		printf(",\"time_ns\":%" PRIu64 "}", c->transitions[i].time_ns);
	}
	printf("],\"transitions_total\":%" PRIu32 "}", c->transitions_total);
}

static void json_calls(const char *key, const struct callbox_call_status *c,
		       size_t n)
{
	size_t i;

	printf(",\"%s\":[", key);
	for (i = 0; i < n; i++) {
		if (i)
			putchar(',');
		json_call(&c[i]);
	}
	putchar(']');
}

/* ---- the command ---- */

static int ps_list(bool json)
{
	struct callbox_sandbox_status *list;
	size_t i, n;
	int ret;

	ret = callbox_inspect_list(&list, &n);
	if (ret)
		return cli_inspect_error(ret);
	if (json) {
		puts("[");
		for (i = 0; i < n; i++) {
			putchar('{');
			json_sandbox_fields(&list[i]);
			puts(i + 1 < n ? "}," : "}");
		}
		puts("]");
	} else {
		print_sandbox_header();
		for (i = 0; i < n; i++)
			print_sandbox_line(&list[i]);
	}
	callbox_inspect_free(list, n);
	return CLI_EXIT_OK;
}

static int ps_one(uint64_t id, bool json)
{
	struct callbox_sandbox_status *s;
	int ret;

	ret = callbox_inspect_get(id, &s);
	if (ret)
		return cli_inspect_error(ret);
	if (json) {
		putchar('{');
		json_sandbox_fields(s);
		json_calls("live_calls", s->live, s->nr_live);
		json_calls("recent_calls", s->recent, s->nr_recent);
		puts("}");
	} else {
		print_sandbox(s);
	}
	callbox_inspect_free(s, 1);
	return CLI_EXIT_OK;
}

int cli_ps(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	unsigned long long id;
	bool json = false;
	char *end;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'h':
			cli_ps_usage(stdout);
			return CLI_EXIT_OK;
		default:
			cli_ps_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "callbox: ps takes one SANDBOX-ID at most\n");
		cli_ps_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (argc == optind) {
		ret = ps_list(json);
	} else {
		errno = 0;
		id = strtoull(argv[optind], &end, 10);
		if (errno || end == argv[optind] || *end || !id ||
		    argv[optind][0] == '-') {
			fprintf(stderr, "callbox: ps: '%s' is not a sandbox id (a number from 1)\n",
				argv[optind]);
			return CLI_EXIT_USAGE;
		}
		ret = ps_one(id, json);
	}
	if (ret == CLI_EXIT_OK && (fflush(stdout) || ferror(stdout))) {
		fprintf(stderr, "callbox: writing the list: %s\n",
			strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return ret;
}

// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox CLI: `callbox monitor [--json]`, the kernel's callbox events as
 * they happen, one a line like `ip monitor`, until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>

#include "cli.h"

void cli_monitor_usage(FILE *f)
{
	fputs("Usage: callbox monitor [--json]\n"
	      "\n"
	      "Print the kernel's callbox events as they happen, one a line, until\n"
	      "interrupted (SIGINT or SIGTERM, which exit with status 0):\n"
	      "  sandbox 3 created uid 1000\n"
	      "  sandbox 3 call 7 new -> QUEUED\n"
	      "  sandbox 3 call 7 ENTERED -> HOSTCALL flags=guest_ran\n"
	      "  sandbox 3 call 7 ENTERED -> ABORTED reason=deadline flags=guest_ran,poisoned\n"
	      "  sandbox 3 shutdown\n"
	      "  lost 12 events\n"
	      "Each line is written as soon as its event arrives.\n"
	      "\n"
	      "Options:\n"
	      "  -j, --json       print JSON Lines instead: one object a line,\n"
	      "                   {type, sandbox_id, call_id, from, to, reason,\n"
	      "                   flags, time_ns, owner_uid, lost}, with the\n"
	      "                   fields that the event's type has (time_ns\n"
	      "                   and owner_uid always, null if unknown;\n"
	      "                   from and reason null if none); type is\n"
	      "                   sandbox-create, sandbox-shutdown,\n"
	      "                   call-transition or lost, time_ns on\n"
	      "                   CLOCK_MONOTONIC\n"
	      "  -h, --help       show this help\n"
	      "\n"
	      "Needs CAP_SYS_ADMIN, and callbox.ko loaded.\n"
	      "Exit status: 0 when interrupted, 1 if the events cannot be read, 2 on\n"
	      "bad usage.\n", f);
}

static volatile sig_atomic_t stopping;

static void stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static const char *event_type(uint32_t type)
{
	switch (type) {
	case CALLBOX_NL_EVENT_SANDBOX_CREATE:
		return "sandbox-create";
	case CALLBOX_NL_EVENT_SANDBOX_SHUTDOWN:
		return "sandbox-shutdown";
	case CALLBOX_NL_EVENT_CALL_TRANSITION:
		return "call-transition";
	case CALLBOX_NL_EVENT_LOST:
		return "lost";
	default:
		return NULL;
	}
}

static void print_event(const struct callbox_event *ev)
{
	char from[32], to[32], reason[32], flags[CLI_FLAGS_MAX];

	switch (ev->type) {
	case CALLBOX_NL_EVENT_SANDBOX_CREATE:
		printf("sandbox %" PRIu64 " created", ev->sandbox_id);
		if (ev->owner_uid != UINT32_MAX)
			printf(" uid %" PRIu32, ev->owner_uid);
		break;
	case CALLBOX_NL_EVENT_SANDBOX_SHUTDOWN:
		printf("sandbox %" PRIu64 " shutdown", ev->sandbox_id);
		break;
	case CALLBOX_NL_EVENT_CALL_TRANSITION:
		printf("sandbox %" PRIu64 " call %" PRIu64 " %s -> %s",
		       ev->sandbox_id, ev->call_id,
		       ev->from ? cli_call_state(ev->from, from, sizeof(from)) :
		       "new", cli_call_state(ev->to, to, sizeof(to)));
		if (ev->to == CALLBOX_STATE_ABORTED)
			printf(" reason=%s", cli_abort_reason(ev->reason, reason,
							      sizeof(reason)));
		if (ev->flags)
			printf(" flags=%s", cli_call_flags(ev->flags, flags,
							   sizeof(flags)));
		break;
	case CALLBOX_NL_EVENT_LOST:
		if (ev->lost)
			printf("lost %" PRIu64 " events", ev->lost);
		else
			printf("lost events (they came faster than they were read)");
		break;
	default:
		printf("event %" PRIu32 " on sandbox %" PRIu64, ev->type,
		       ev->sandbox_id);
		break;
	}
	putchar('\n');
}

static void json_event(const struct callbox_event *ev)
{
	char name[32];
	const char *type = event_type(ev->type);

	fputs("{\"type\":", stdout);
	if (type)
		cli_json_string(stdout, type);
	else
		printf("%" PRIu32, ev->type);
	if (ev->type != CALLBOX_NL_EVENT_LOST)
		printf(",\"sandbox_id\":%" PRIu64, ev->sandbox_id);
	if (ev->type == CALLBOX_NL_EVENT_CALL_TRANSITION) {
		printf(",\"call_id\":%" PRIu64 ",\"from\":", ev->call_id);
		if (ev->from)
			cli_json_string(stdout, cli_call_state(ev->from, name,
							       sizeof(name)));
		else
			fputs("null", stdout);
		fputs(",\"to\":", stdout);
		cli_json_string(stdout, cli_call_state(ev->to, name,
						       sizeof(name)));
		fputs(",\"reason\":", stdout);
		if (ev->to == CALLBOX_STATE_ABORTED)
			cli_json_string(stdout, cli_abort_reason(ev->reason,
								 name,
								 sizeof(name)));
		else
			fputs("null", stdout);
		fputs(",\"flags\":", stdout);
		cli_json_flags(stdout, ev->flags);
	}
	if (ev->type == CALLBOX_NL_EVENT_LOST)
		printf(",\"lost\":%" PRIu64, ev->lost);
	fputs(",\"time_ns\":", stdout);
	if (ev->time_ns)
		printf("%" PRIu64, ev->time_ns);
	else
		fputs("null", stdout);
	fputs(",\"owner_uid\":", stdout);
	if (ev->owner_uid != UINT32_MAX)
		printf("%" PRIu32, ev->owner_uid);
	else
		fputs("null", stdout);
	puts("}");
}

/*
 * SIGINT and SIGTERM stop the loop: blocked but in ppoll(), so that one
 * that comes between two checks of @stopping still ends the wait. @orig
 * gets the mask to wait with.
 */
static int catch_signals(sigset_t *orig)
{
	struct sigaction sa = { .sa_handler = stop };
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, orig) ||
	    sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -errno;
	sigdelset(orig, SIGINT);
	sigdelset(orig, SIGTERM);
	return 0;
}

static int monitor(struct callbox_monitor *m, bool json)
{
	struct pollfd pfd = { .fd = callbox_monitor_fd(m), .events = POLLIN };
	struct callbox_event ev;
	sigset_t orig;
	int ret;

	if (catch_signals(&orig)) {
		fprintf(stderr, "callbox: monitor: %s\n", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	while (!stopping) {
		while (!stopping && !(ret = callbox_monitor_read(m, &ev))) {
			if (json)
				json_event(&ev);
			else
				print_event(&ev);
			if (fflush(stdout) || ferror(stdout)) {
				fprintf(stderr, "callbox: writing events: %s\n",
					strerror(errno));
				return CLI_EXIT_FAIL;
			}
		}
		if (stopping)
			break;
		if (ret != -EAGAIN)
			return cli_inspect_error(ret);
		if (ppoll(&pfd, 1, NULL, &orig) < 0 && errno != EINTR) {
			fprintf(stderr, "callbox: monitor: %s\n",
				strerror(errno));
			return CLI_EXIT_FAIL;
		}
	}
	return CLI_EXIT_OK;
}

int cli_monitor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct callbox_monitor *m;
	bool json = false;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'h':
			cli_monitor_usage(stdout);
			return CLI_EXIT_OK;
		default:
			cli_monitor_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc != optind) {
		fprintf(stderr, "callbox: monitor takes no arguments\n");
		cli_monitor_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	ret = callbox_monitor_open(&m);
	if (ret)
		return cli_inspect_error(ret);
	ret = monitor(m, json);
	callbox_monitor_close(m);
	return ret;
}

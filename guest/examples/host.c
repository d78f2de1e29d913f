// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Example guest: calls back into the host. The host library decides what
 * each host function number means (callbox_sandbox_set_host_fn()).
 */
#include <callbox/guest.h>

/* One host call: host function 1 on the argument, plus one. */
static int64_t via_host(const int64_t *args)
{
	return callbox_host_call(1, args[0]) + 1;
}
CALLBOX_EXPORT(via_host, 1);

/* Many host calls in one call: the sum of host function 1 on 0..n-1. */
static int64_t many_host_calls(const int64_t *args)
{
	int64_t i, sum = 0;

	for (i = 0; i < args[0]; i++)
		sum += callbox_host_call(1, i);
	return sum;
}
CALLBOX_EXPORT(many_host_calls, 1);

/* Host function 2 takes as long as the host likes (until cancelled). */
static int64_t wait_on_host(const int64_t *args)
{
	(void)args;
	return callbox_host_call(2, 0);
}
CALLBOX_EXPORT(wait_on_host, 0);

/* Says so in the log when the sandbox boots (the init call). */
int callbox_guest_init(void)
{
	callbox_log(CALLBOX_LOG_INFO, "host guest ready");
	return 0;
}

/* One message at every level; the host's threshold decides what arrives. */
static int64_t log_levels(const int64_t *args)
{
	(void)args;
	callbox_log(CALLBOX_LOG_ERROR, "an error");
	callbox_log(CALLBOX_LOG_WARN, "a warning");
	callbox_log(CALLBOX_LOG_INFO, "some information");
	callbox_log(CALLBOX_LOG_DEBUG, "a debug message");
	callbox_log(CALLBOX_LOG_TRACE, "a trace message");
	return 5;
}
CALLBOX_EXPORT(log_levels, 0);

/* A formatted log message (callbox_logf). */
static int64_t log_formatted(const int64_t *args)
{
	callbox_logf(CALLBOX_LOG_INFO, "n = %lld, hex %#llx, %s", (long long)args[0],
		     (unsigned long long)args[0], "done");
	return args[0];
}
CALLBOX_EXPORT(log_formatted, 1);

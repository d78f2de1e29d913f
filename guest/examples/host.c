// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Example guest: calls back into the host. The host registers the host
 * functions by name with their signatures (callbox_sandbox_add_host_fn());
 * the ones used here are:
 *
 *	i64 transform(i64)		anything, e.g. doubling
 *	i64 wait()			takes as long as the host likes
 *	string greeting(string)		makes a greeting for a name
 */
#include <callbox/guest.h>

/*
 * A host call that must succeed with a result of type @type; otherwise
 * the call fails, saying why, and this returns false.
 */
static bool call_host(const char *function,
		      const struct callbox_wire_value *args,
		      unsigned int nr_args, uint8_t type,
		      struct callbox_wire_value *result)
{
	int err = callbox_call_host(function, args, nr_args, result);

	if (err) {
		callbox_fail("host call %s failed with %d: %s", function, err,
			     callbox_host_error());
		return false;
	}
	if (result->type != type) {
		callbox_fail("host call %s returned %s, not %s", function,
			     callbox_wire_type_name(result->type),
			     callbox_wire_type_name(type));
		return false;
	}
	return true;
}

/* One host call: transform(x) + 1, wrapping. */
static void via_host(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	struct callbox_wire_value arg = CALLBOX_I64(args[0].i64), r;

	if (call_host("transform", &arg, 1, CALLBOX_WIRE_I64, &r))
		callbox_wire_put_i64(result, (int64_t)((uint64_t)r.i64 + 1));
}
CALLBOX_EXPORT(via_host, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/* Many host calls in one call: the sum of transform(i) for i in [0, n). */
static void many_host_calls(const struct callbox_wire_value *args,
			    struct callbox_wire_writer *result)
{
	struct callbox_wire_value arg, r;
	uint64_t sum = 0;
	int64_t i;

	for (i = 0; i < args[0].i64; i++) {
		arg = CALLBOX_I64(i);
		if (!call_host("transform", &arg, 1, CALLBOX_WIRE_I64, &r))
			return;
		sum += (uint64_t)r.i64;
	}
	callbox_wire_put_i64(result, (int64_t)sum);
}
CALLBOX_EXPORT(many_host_calls, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/* A host call that takes as long as the host likes (until cancelled). */
static void wait_on_host(const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result)
{
	struct callbox_wire_value r;

	(void)args;
	if (call_host("wait", NULL, 0, CALLBOX_WIRE_I64, &r))
		callbox_wire_put_i64(result, r.i64);
}
CALLBOX_EXPORT(wait_on_host, CALLBOX_WIRE_I64);

/*
 * Strings both ways, and host calls feeding each other: greet the name,
 * then greet the greeting. The first result lives in the host call's
 * input buffer, and is passed on from there: the arguments of the second
 * call are written (to the output buffer) before its reply overwrites it.
 */
static void greet_twice(const struct callbox_wire_value *args,
			struct callbox_wire_writer *result)
{
	struct callbox_wire_value first, second;

	if (call_host("greeting", &args[0], 1, CALLBOX_WIRE_STRING, &first) &&
	    call_host("greeting", &first, 1, CALLBOX_WIRE_STRING, &second))
		callbox_wire_put_string_n(result, (const char *)second.data,
					  second.len);
}
CALLBOX_EXPORT(greet_twice, CALLBOX_WIRE_STRING, CALLBOX_WIRE_STRING);

/*
 * Call any host function with one i64, and say what came back, failures
 * included: "ok i64 42", "ok void", "ok string 'x'", or "error -2: no
 * host function named 'x'". For tests of the host's checks.
 */
static void try_host(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	struct callbox_wire_value arg = CALLBOX_I64(args[1].i64);
	struct callbox_wire_value r;
	char text[256];
	int err;

	err = callbox_call_host((const char *)args[0].data, &arg, 1, &r);
	if (err)
		callbox_snprintf(text, sizeof(text), "error %d: %s", err,
				 callbox_host_error());
	else if (r.type == CALLBOX_WIRE_I64)
		callbox_snprintf(text, sizeof(text), "ok i64 %lld",
				 (long long)r.i64);
	else if (r.type == CALLBOX_WIRE_STRING)
		callbox_snprintf(text, sizeof(text), "ok string '%s'",
				 (const char *)r.data);
	else
		callbox_snprintf(text, sizeof(text), "ok %s",
				 callbox_wire_type_name(r.type));
	callbox_wire_put_string(result, text);
}
CALLBOX_EXPORT(try_host, CALLBOX_WIRE_STRING, CALLBOX_WIRE_STRING,
	       CALLBOX_WIRE_I64);

/* Says so in the log when the sandbox boots (the init call). */
int callbox_guest_init(void)
{
	callbox_log(CALLBOX_LOG_INFO, "host guest ready");
	return 0;
}

/* One message at every level; the host's threshold decides what arrives. */
static void log_levels(const struct callbox_wire_value *args,
		       struct callbox_wire_writer *result)
{
	(void)args;
	callbox_log(CALLBOX_LOG_ERROR, "an error");
	callbox_log(CALLBOX_LOG_WARN, "a warning");
	callbox_log(CALLBOX_LOG_INFO, "some information");
	callbox_log(CALLBOX_LOG_DEBUG, "a debug message");
	callbox_log(CALLBOX_LOG_TRACE, "a trace message");
	callbox_wire_put_i64(result, 5);
}
CALLBOX_EXPORT(log_levels, CALLBOX_WIRE_I64);

/* A formatted log message (callbox_logf). */
static void log_formatted(const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result)
{
	callbox_logf(CALLBOX_LOG_INFO, "n = %lld, hex %#llx, %s",
		     (long long)args[0].i64, (unsigned long long)args[0].i64,
		     "done");
	callbox_wire_put_i64(result, args[0].i64);
}
CALLBOX_EXPORT(log_formatted, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

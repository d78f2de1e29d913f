// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox CLI: what `callbox ps` and `callbox monitor` share: the names
 * of the kernel's numbers (a number the library cannot name is shown as
 * one), call flags, durations, JSON values, and the words for a failure
 * of the inspection functions.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static const char *const flag_names[] = {
	"guest_ran",		/* CALLBOX_CALL_GUEST_RAN */
	"cancel_pending",	/* CALLBOX_CALL_CANCEL_PENDING */
	"poisoned",		/* CALLBOX_CALL_POISONED */
	"init",			/* CALLBOX_CALL_INIT */
};

/* @name, or @fallback followed by @value when the library had none. */
static const char *or_number(const char *name, const char *fallback,
			     uint32_t value, char *buf, size_t len)
{
	if (name)
		return name;
	snprintf(buf, len, "%s%" PRIu32, fallback, value);
	return buf;
}

const char *cli_call_state(uint32_t state, char *buf, size_t len)
{
	return or_number(callbox_call_state_name(state), "state-", state,
			 buf, len);
}

const char *cli_abort_reason(uint32_t reason, char *buf, size_t len)
{
	return or_number(callbox_abort_reason_name(reason), "reason-", reason,
			 buf, len);
}

const char *cli_sandbox_state(uint32_t state, char *buf, size_t len)
{
	return or_number(callbox_sandbox_state_name(state), "state-", state,
			 buf, len);
}

/*
 * Call flags as "guest_ran,poisoned", an unknown bit in hex; "-" for
 * none. @len of CLI_FLAGS_MAX always holds them.
 */
const char *cli_call_flags(uint32_t flags, char *buf, size_t len)
{
	size_t n = 0;
	unsigned int bit;

	buf[0] = '\0';
	for (bit = 0; bit < 32; bit++) {
		if (!(flags & (1u << bit)))
			continue;
		if (bit < ARRAY_SIZE(flag_names))
			n += snprintf(buf + n, len - n, "%s%s", n ? "," : "",
				      flag_names[bit]);
		else
			n += snprintf(buf + n, len - n, "%s0x%x", n ? "," : "",
				      1u << bit);
		if (n >= len)
			break;
	}
	return n ? buf : "-";
}

/* The same flags as a JSON array of strings. */
void cli_json_flags(FILE *f, uint32_t flags)
{
	unsigned int bit;
	bool first = true;

	fputc('[', f);
	for (bit = 0; bit < 32; bit++) {
		if (!(flags & (1u << bit)))
			continue;
		if (bit < ARRAY_SIZE(flag_names))
			fprintf(f, "%s\"%s\"", first ? "" : ",",
				flag_names[bit]);
		else
			fprintf(f, "%s\"0x%x\"", first ? "" : ",", 1u << bit);
		first = false;
	}
	fputc(']', f);
}

/* A JSON string; the names we print need no escapes, but are checked. */
void cli_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/*
 * A duration in nanoseconds, to about three digits: "850ns", "12.3us",
 * "4.56ms", "12.34s", "5m03s", "2h05m", "3d04h".
 */
const char *cli_duration(uint64_t ns, char *buf, size_t len)
{
	uint64_t s = ns / 1000000000;

	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2fms", ns / 1e6);
	else if (s < 60)
		snprintf(buf, len, "%.2fs", ns / 1e9);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60,
			 s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
			 s / 60 % 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400,
			 s / 3600 % 24);
	return buf;
}

/*
 * Say why an inspection function failed, on stderr: the library's words,
 * e.g. "the callbox netlink family is not available: is callbox.ko
 * loaded?". Returns CLI_EXIT_FAIL.
 */
int cli_inspect_error(int err)
{
	const char *message = callbox_inspect_last_error();

	fprintf(stderr, "callbox: %s\n", message[0] ? message : strerror(-err));
	return CLI_EXIT_FAIL;
}

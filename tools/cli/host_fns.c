// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox CLI: the small host functions it offers every guest, those the
 * example guest guest/examples/host.c calls, so that it runs from here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

/* i64 transform(i64): 2 * x. */
static int host_transform(struct callbox_sandbox *sb,
			  const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result, void *opaque)
{
	(void)sb;
	(void)opaque;
	/* Doubling wraps, as unsigned, rather than overflow. */
	callbox_wire_put_i64(result, (int64_t)((uint64_t)args[0].i64 * 2));
	return 0;
}

/* string greeting(string): "Hello, NAME!". */
static int host_greeting(struct callbox_sandbox *sb,
			 const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result, void *opaque)
{
	size_t size = (size_t)args[0].len + sizeof("Hello, !");
	char *text = malloc(size);

	(void)opaque;
	if (!text)
		return callbox_host_fn_fail(sb, -ENOMEM, "out of memory");
	snprintf(text, size, "Hello, %s!", (const char *)args[0].data);
	/* One too large for the guest's buffer: the library reports it. */
	callbox_wire_put_string(result, text);
	free(text);
	return 0;
}

/* i64 wait(): always fails; a CLI call has nothing to wait for. */
static int host_wait(struct callbox_sandbox *sb,
		     const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result, void *opaque)
{
	(void)args;
	(void)result;
	(void)opaque;
	return callbox_host_fn_fail(sb, -ENOSYS,
				    "the callbox CLI has no long-running host function");
}

static const struct {
	const char *name;
	const char *signature;
	callbox_host_fn fn;
} host_fns[] = {
	{ "transform", "i64(i64)", host_transform },
	{ "greeting", "string(string)", host_greeting },
	{ "wait", "i64()", host_wait },
};

/**
 * cli_add_host_fns() - register the CLI's host functions on @sb
 * @sb: a sandbox not loaded yet
 *
 * Return: 0, or -errno with callbox_sandbox_last_error(@sb) saying why.
 */
int cli_add_host_fns(struct callbox_sandbox *sb)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(host_fns); i++) {
		ret = callbox_sandbox_add_host_fn(sb, host_fns[i].name,
						  host_fns[i].signature,
						  host_fns[i].fn, NULL);
		if (ret)
			return ret;
	}
	return 0;
}

/* Their help, for `callbox run --help`. */
void cli_host_fns_usage(FILE *f)
{
	fputs("Host functions the guest may call (as guest/examples/host.c does):\n"
	      "  i64 transform(i64)       returns 2 * x\n"
	      "  string greeting(string)  returns \"Hello, NAME!\"\n"
	      "  i64 wait()               fails: the CLI has no long-running host\n"
	      "                           function\n",
	      f);
}

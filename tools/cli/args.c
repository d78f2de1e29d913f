// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox CLI: the typed arguments of a call, TYPE:VALUE, from the command
 * line. callbox_value_parse() reads each one; this file adds what is the
 * command line's own: the argument count, that stdin is read by one
 * bytes:@- at most, and messages that name the argument, "callbox:
 * argument N ('TEXT'): ...".
 *
 * The values are parsed without looking at the function's signature, so
 * that a value always means what it says; the library then checks them
 * against the signature the guest published and explains any mismatch.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The one argument that reads stdin. */
#define ARG_STDIN "bytes:@-"

/*
 * "callbox: argument N ('TEXT'): MESSAGE", with a long TEXT cut short.
 * The message is printed whole, however long.
 */
static void arg_error(unsigned int index, const char *text,
		      const char *message)
{
	fprintf(stderr, "callbox: argument %u ('%.40s%s'): %s\n", index,
		text, strlen(text) > 40 ? "..." : "", message);
}

/*
 * Parse argument @index (from 1), @text, into @v. Files may be read, and
 * stdin if no earlier argument read it. Prints what is wrong.
 */
static int parse_arg(unsigned int index, const char *text,
		     struct callbox_wire_value *v, bool *stdin_used)
{
	unsigned int flags = CALLBOX_VALUE_READ_FILES;
	size_t errlen;
	char *err;
	int ret;

	if (!strcmp(text, ARG_STDIN)) {
		if (*stdin_used) {
			arg_error(index, text,
				  "stdin is read once, by an earlier argument");
			return -EINVAL;
		}
		*stdin_used = true;
		flags |= CALLBOX_VALUE_READ_STDIN;
	}
	/* The library's promise: room for the whole message. */
	errlen = strlen(text) + 256;
	err = malloc(errlen);
	if (!err) {
		arg_error(index, text, "out of memory");
		return -ENOMEM;
	}
	ret = callbox_value_parse(text, flags, v, err, errlen);
	if (ret)
		arg_error(index, text, err);
	free(err);
	return ret;
}

/**
 * cli_args_parse() - the typed arguments of a call, from the command line
 * @args: where they go; free them with cli_args_free(), even on failure
 * @argc: how many there are
 * @argv: their text
 *
 * All of them are parsed before the VM is made: a typo costs no boot.
 *
 * Return: 0, or -EINVAL (-ENOMEM) with a message on stderr for the first
 * bad one, or for too many.
 */
int cli_args_parse(struct cli_args *args, int argc, char **argv)
{
	bool stdin_used = false;
	int ret;

	memset(args, 0, sizeof(*args));
	if (argc > CALLBOX_MAX_PARAMS) {
		fprintf(stderr, "callbox: at most %d arguments, %d given\n",
			CALLBOX_MAX_PARAMS, argc);
		return -EINVAL;
	}
	for (args->n = 0; args->n < (unsigned int)argc; args->n++) {
		ret = parse_arg(args->n + 1, argv[args->n],
				&args->v[args->n], &stdin_used);
		if (ret) {
			args->n++;	/* for cli_args_free() */
			return ret;
		}
	}
	return 0;
}

/* Release the data of the values in @args, and empty it. */
void cli_args_free(struct cli_args *args)
{
	unsigned int i;

	for (i = 0; i < args->n; i++)
		callbox_value_free(&args->v[i]);
	args->n = 0;
}

/* The help of the arguments, for `callbox run --help`. */
void cli_args_usage(FILE *f)
{
	fprintf(f,
		"Arguments, at most %d, are TYPE:VALUE:\n"
		"  i32:-5 u32:7 i64:1 u64:0xff  integers: decimal, 0x hex or 0 octal,\n"
		"                               within the type's range\n"
		"  f32:1.5 f64:-2e10 f64:nan    floats; also inf, -inf and hex (0x1p-3)\n"
		"  bool:true bool:0             true, false, 1 or 0\n"
		"  str:hello string:hello       a string, taken as it is\n"
		"  bytes:@FILE bytes:@-         bytes: the contents of FILE, or of stdin\n"
		"  bytes:hex:00ff10             bytes: in hex, two digits a byte\n"
		"An ARG without TYPE: is an integer taken as i64: 'add 2 40' is\n"
		"'add i64:2 i64:40'. The types must match the function's signature.\n",
		CALLBOX_MAX_PARAMS);
}

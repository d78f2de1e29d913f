// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox CLI: the sandbox the commands load GUEST into: the options that
 * shape it (--mem, --stack, --heap, --input-size, --output-size,
 * --timeout, --init-timeout, --log-level) parsed into a &struct callbox_config, their
 * help, and making it, with the CLI's host functions and the guest loaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A byte count, with an optional K, M or G suffix; at most 1 TiB. */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		v <<= 10; end++;
		break;
	case 'm': case 'M':
		v <<= 20; end++;
		break;
	case 'g': case 'G':
		v <<= 30; end++;
		break;
	}
	if (*end || v > (1ull << 40))
		return -EINVAL;
	*out = v;
	return 0;
}

/* Positive seconds, decimals allowed, up to a million, as nanoseconds. */
static int parse_seconds(const char *s, uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e6)
		return -EINVAL;
	*ns = (uint64_t)(v * 1e9);
	return 0;
}

/* A log level by name, as the library names them. */
static int parse_log_level(const char *s, uint32_t *level)
{
	const char *name;
	uint32_t i;

	for (i = 0; (name = callbox_log_level_name(i)); i++) {
		if (!strcmp(s, name)) {
			*level = i;
			return 0;
		}
	}
	return -EINVAL;
}

/**
 * cli_config_init() - the CLI's defaults: the library's, with one call slot
 * @cfg: the configuration to fill
 *
 * The CLI makes one call at a time, so one slot of I/O buffers is
 * enough, and large --input-size and --output-size fit in less guest
 * memory than with the library's default of 16.
 */
void cli_config_init(struct callbox_config *cfg)
{
	callbox_config_init(cfg);
	cfg->max_calls = 1;
}

/**
 * cli_sandbox_option() - apply one sandbox option to @cfg
 * @opt: what getopt_long() returned
 * @arg: its argument, optarg
 * @cfg: the configuration
 *
 * Return: 0 if @opt was a sandbox option, and good; -EINVAL if it was one
 * but @arg is bad, with a message on stderr; -ENOENT if @opt is not a
 * sandbox option, for the command to handle.
 */
int cli_sandbox_option(int opt, const char *arg, struct callbox_config *cfg)
{
	const char *name;
	uint64_t *size;

	switch (opt) {
	case 'm':
		if (parse_size(arg, &cfg->mem_size)) {
			fprintf(stderr, "callbox: --mem: '%s' is not a size\n",
				arg);
			return -EINVAL;
		}
		return 0;
	case 's':
		size = &cfg->stack_size;
		name = "stack";
		break;
	case 'H':
		size = &cfg->heap_size;
		name = "heap";
		break;
	case CLI_OPT_INPUT_SIZE:
		size = &cfg->input_size;
		name = "input-size";
		break;
	case CLI_OPT_OUTPUT_SIZE:
		size = &cfg->output_size;
		name = "output-size";
		break;
	case 't':
		if (parse_seconds(arg, &cfg->call_timeout_ns)) {
			fprintf(stderr, "callbox: --timeout: '%s' is not a positive number of seconds\n",
				arg);
			return -EINVAL;
		}
		return 0;
	case CLI_OPT_INIT_TIMEOUT:
		if (parse_seconds(arg, &cfg->init_timeout_ns)) {
			fprintf(stderr, "callbox: --init-timeout: '%s' is not a positive number of seconds\n",
				arg);
			return -EINVAL;
		}
		return 0;
	case 'l':
		if (parse_log_level(arg, &cfg->log_level)) {
			fprintf(stderr, "callbox: --log-level: '%s' is not off, error, warn, info, debug or trace\n",
				arg);
			return -EINVAL;
		}
		return 0;
	default:
		return -ENOENT;
	}
	/* The sizes other than --mem; the library checks their ranges. */
	if (parse_size(arg, size)) {
		fprintf(stderr, "callbox: --%s: '%s' is not a size\n", name,
			arg);
		return -EINVAL;
	}
	return 0;
}

/* @size as the options take it: "4M", "256K", or bytes. */
static const char *format_size(uint64_t size, char *buf, size_t len)
{
	if (size && !(size % (1 << 20)))
		snprintf(buf, len, "%" PRIu64 "M", size >> 20);
	else if (size && !(size % (1 << 10)))
		snprintf(buf, len, "%" PRIu64 "K", size >> 10);
	else
		snprintf(buf, len, "%" PRIu64, size);
	return buf;
}

/*
 * The help of the sandbox options, a part of each command's "Options:".
 * The defaults shown are the library's, from callbox_config_init().
 */
void cli_sandbox_options_usage(FILE *f)
{
	struct callbox_config cfg;
	char mem[32], stack[32], in[32], out[32];

	callbox_config_init(&cfg);
	fprintf(f,
		"  -m, --mem SIZE   guest memory: a multiple of 2M from 2M to 1G,\n"
		"                   with suffix K, M or G (default %s)\n"
		"  -s, --stack SIZE guest stack: 16K to 1M in 4K steps (default %s)\n"
		"  -H, --heap SIZE  most the guest's heap may take (default: all the\n"
		"                   memory between the image and the I/O buffers)\n"
		"      --input-size SIZE\n"
		"                   the largest message into the guest (a call's\n"
		"                   arguments, a host function's result): 4K to\n"
		"                   256M in 4K steps (default %s)\n"
		"      --output-size SIZE\n"
		"                   the largest message out of the guest (a result,\n"
		"                   a host call's arguments), likewise (default %s)\n"
		"  -t, --timeout S  stop the call after S seconds (decimals allowed);\n"
		"                   the kernel enforces it (default: no limit)\n"
		"      --init-timeout S\n"
		"                   fail the load if the guest's init takes longer\n"
		"                   than S seconds (default %.0f)\n"
		"  -l, --log-level L  show guest log messages up to L: off, error,\n"
		"                   warn, info, debug or trace (default %s)\n",
		format_size(cfg.mem_size, mem, sizeof(mem)),
		format_size(cfg.stack_size, stack, sizeof(stack)),
		format_size(cfg.input_size, in, sizeof(in)),
		format_size(cfg.output_size, out, sizeof(out)),
		cfg.init_timeout_ns / 1e9,
		callbox_log_level_name(cfg.log_level));
}

/**
 * cli_sandbox_open() - a sandbox with the CLI's host functions and @guest
 * @cfg: its configuration
 * @guest: the path of the guest's ELF, or of a snapshot file
 * @snapshot: @guest is a snapshot file (callbox_sandbox_save())
 * @sb: the loaded sandbox, for callbox_sandbox_free(); NULL on failure
 *
 * Return: 0, or -errno with what went wrong on stderr.
 */
int cli_sandbox_open(const struct callbox_config *cfg, const char *guest,
		     bool snapshot, struct callbox_sandbox **sb)
{
	int ret;

	ret = callbox_sandbox_new(cfg, sb);
	if (ret) {
		fprintf(stderr, "callbox: %s\n",
			callbox_sandbox_last_error(NULL));
		return ret;
	}
	ret = cli_add_host_fns(*sb);
	if (!ret)
		ret = snapshot ? callbox_sandbox_load_snapshot(*sb, guest) :
				 callbox_sandbox_load(*sb, guest);
	if (ret) {
		fprintf(stderr, "callbox: %s\n",
			callbox_sandbox_last_error(*sb));
		callbox_sandbox_free(*sb);
		*sb = NULL;
	}
	return ret;
}

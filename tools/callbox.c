// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox: command-line front end of libcallbox.
 *
 *   callbox run [--mem SIZE] GUEST FUNCTION [ARGS...]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callbox/callbox.h>

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: callbox run [OPTIONS] GUEST FUNCTION [ARG...]\n"
		"\n"
		"Load the static ELF guest GUEST into a new KVM micro-VM, call its\n"
		"exported function FUNCTION with integer arguments (decimal, 0x hex\n"
		"or 0 octal; at most 6) and print the 64-bit result.\n"
		"\n"
		"Options:\n"
		"  -m, --mem SIZE   guest memory: a multiple of 2M from 2M to 1G,\n"
		"                   with suffix K, M or G (default 4M)\n"
		"  -s, --stack SIZE guest stack: 16K to 1M in 4K steps (default 256K)\n"
		"  -H, --heap SIZE  most the guest's heap may take (default: all the\n"
		"                   memory between the image and the stack)\n"
		"  -t, --timeout S  stop the call after S seconds (decimals allowed);\n"
		"                   the kernel enforces it (default: no limit)\n"
		"  -l, --log-level L  show guest log messages up to L: off, error,\n"
		"                   warn, info, debug or trace (default warn)\n"
		"  -h, --help       show this help\n"
		"\n"
		"Needs /dev/kvm and /dev/callbox (callbox.ko loaded).\n"
		"Exit status: 0 if the call returned, 1 if it failed, 2 on bad usage.\n");
}

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

static int parse_log_level(const char *s, uint32_t *level)
{
	static const char *const names[] = {
		"off", "error", "warn", "info", "debug", "trace",
	};
	uint32_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*level = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_int(const char *s, int64_t *out)
{
	long long v;
	char *end;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "stack", required_argument, NULL, 's' },
		{ "heap", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct callbox_sandbox *sb;
	struct callbox_config cfg;
	int64_t args[6], result;
	const char *guest, *function;
	int nargs, i, opt, ret;

	callbox_config_init(&cfg);
	while ((opt = getopt_long(argc, argv, "+m:s:H:t:l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (parse_size(optarg, &cfg.mem_size)) {
				fprintf(stderr, "callbox: --mem: '%s' is not a size\n",
					optarg);
				return 2;
			}
			break;
		case 's':
		case 'H':
			if (parse_size(optarg, opt == 's' ? &cfg.stack_size :
							   &cfg.heap_size)) {
				fprintf(stderr, "callbox: --%s: '%s' is not a size\n",
					opt == 's' ? "stack" : "heap", optarg);
				return 2;
			}
			break;
		case 't':
			if (parse_seconds(optarg, &cfg.call_timeout_ns)) {
				fprintf(stderr, "callbox: --timeout: '%s' is not a positive number of seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'l':
			if (parse_log_level(optarg, &cfg.log_level)) {
				fprintf(stderr, "callbox: --log-level: '%s' is not off, error, warn, info, debug or trace\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "callbox: run needs GUEST and FUNCTION\n");
		usage(stderr);
		return 2;
	}
	guest = argv[optind];
	function = argv[optind + 1];
	nargs = argc - optind - 2;
	if (nargs > 6) {
		fprintf(stderr, "callbox: at most 6 arguments, %d given\n",
			nargs);
		return 2;
	}
	for (i = 0; i < nargs; i++) {
		if (parse_int(argv[optind + 2 + i], &args[i])) {
			fprintf(stderr, "callbox: argument %d: '%s' is not a 64-bit integer\n",
				i + 1, argv[optind + 2 + i]);
			return 2;
		}
	}

	sb = callbox_sandbox_new(&cfg);
	if (!sb) {
		fprintf(stderr, "callbox: out of memory\n");
		return 1;
	}
	ret = callbox_sandbox_load(sb, guest);
	if (ret) {
		fprintf(stderr, "callbox: %s\n", callbox_last_error(sb));
		callbox_sandbox_free(sb);
		return 1;
	}
	ret = callbox_call_int(sb, function, args, nargs, &result);
	if (ret) {
		fprintf(stderr, "callbox: %s\n", callbox_last_error(sb));
		callbox_sandbox_free(sb);
		return 1;
	}
	printf("%" PRId64 "\n", result);
	callbox_sandbox_free(sb);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);

	fprintf(stderr, "callbox: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

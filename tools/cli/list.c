// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox CLI: `callbox list [OPTIONS] GUEST`, the functions a guest
 * exports, one a line with its signature, e.g. "i64 add(i64, i64)"; the
 * same list that `callbox run --list` prints.
 */
#include <errno.h>

#include "cli.h"

/**
 * cli_list_exports() - print the functions of a loaded guest
 * @sb: the sandbox the guest is loaded in
 * @f: where to print them
 * @indent: what goes before each
 */
void cli_list_exports(struct callbox_sandbox *sb, FILE *f,
		      const char *indent)
{
	char text[512];
	unsigned int i;

	for (i = 0; !callbox_sandbox_export(sb, i, text, sizeof(text)); i++)
		fprintf(f, "%s%s\n", indent, text);
}

void cli_list_usage(FILE *f)
{
	fputs("Usage: callbox list [OPTIONS] GUEST\n"
	      "\n"
	      "Load the static ELF guest GUEST into a new KVM micro-VM and list the\n"
	      "functions it exports, one a line with its signature, e.g.\n"
	      "'i64 add(i64, i64)'. The guest's init runs first, as for a call.\n"
	      "\n"
	      "Options:\n", f);
	cli_sandbox_options_usage(f);
	fputs("  -h, --help       show this help\n"
	      "\n"
	      "Needs /dev/kvm and /dev/callbox (callbox.ko loaded).\n"
	      "Exit status: 0 if the guest loaded, 1 if it did not, 2 on bad usage.\n",
	      f);
}

int cli_list(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SANDBOX_LONG_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct callbox_sandbox *sb;
	struct callbox_config cfg;
	int opt, ret;

	cli_config_init(&cfg);
	while ((opt = getopt_long(argc, argv, "+" CLI_SANDBOX_SHORT_OPTIONS "h",
				  opts, NULL)) != -1) {
		ret = cli_sandbox_option(opt, optarg, &cfg);
		if (!ret)
			continue;
		if (ret != -ENOENT)
			return CLI_EXIT_USAGE;
		if (opt == 'h') {
			cli_list_usage(stdout);
			return CLI_EXIT_OK;
		}
		cli_list_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "callbox: list needs GUEST, and only GUEST\n");
		cli_list_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (cli_sandbox_open(&cfg, argv[optind], false, &sb))
		return CLI_EXIT_FAIL;
	cli_list_exports(sb, stdout, "");
	callbox_sandbox_free(sb);
	return CLI_EXIT_OK;
}

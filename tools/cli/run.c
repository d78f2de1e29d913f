// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox CLI: `callbox run [OPTIONS] GUEST FUNCTION [ARG...]`, one call
 * of a guest function in a new sandbox, its result printed by its type.
 * Without FUNCTION, or with --list, it lists the guest's functions as
 * `callbox list` does.
 */
#include <errno.h>

#include "cli.h"

enum {
	OPT_RAW = CLI_OPT_FIRST_FREE,
	OPT_SNAPSHOT,
	OPT_SAVE_SNAPSHOT,
};

void cli_run_usage(FILE *f)
{
	fputs("Usage: callbox run [OPTIONS] GUEST FUNCTION [ARG...]\n"
	      "       callbox run [OPTIONS] [--list] GUEST\n"
	      "       callbox run [OPTIONS] --snapshot FILE [FUNCTION [ARG...]]\n"
	      "\n"
	      "Load the static ELF guest GUEST into a new KVM micro-VM, call its\n"
	      "exported function FUNCTION with the typed arguments ARG and print\n"
	      "the result. Without FUNCTION, or with --list, list GUEST's functions\n"
	      "and their signatures instead. With --snapshot, start the micro-VM\n"
	      "from the snapshot FILE (from --save-snapshot) instead of an ELF: its\n"
	      "init does not run again.\n"
	      "\n", f);
	cli_args_usage(f);
	fputc('\n', f);
	cli_print_usage(f);
	fputs("\n"
	      "Options:\n", f);
	cli_sandbox_options_usage(f);
	fputs("  -L, --list       list GUEST's functions\n"
	      "      --raw        write a string or bytes result as it is, with no\n"
	      "                   newline (and bytes not in hex)\n"
	      "      --snapshot FILE\n"
	      "                   start from the snapshot FILE, not from GUEST\n"
	      "      --save-snapshot FILE\n"
	      "                   once the call has returned (or the guest is\n"
	      "                   loaded, without FUNCTION), write the guest as it\n"
	      "                   is then to FILE, for --snapshot\n"
	      "  -h, --help       show this help\n"
	      "\n", f);
	cli_host_fns_usage(f);
	fputs("\n"
	      "Needs /dev/kvm and /dev/callbox (callbox.ko loaded).\n"
	      "Exit status: 0 if the call returned, 1 if it failed, 2 on bad usage\n"
	      "(a bad ARG included).\n", f);
}

/*
 * Call @function of the guest loaded in @sb with @args and print its
 * result. Returns a CLI_EXIT_* status.
 */
static int run_call(struct callbox_sandbox *sb, const char *guest,
		    const char *function, const struct cli_args *args,
		    bool raw)
{
	struct callbox_wire_value result;
	int err, ret;

	err = callbox_call(sb, function, args->v, args->n, &result);
	if (err) {
		fprintf(stderr, "callbox: %s\n",
			callbox_sandbox_last_error(sb));
		/* A misspelt name: show the ones there are. */
		if (err == -ENOENT) {
			fprintf(stderr, "callbox: the functions of %s are:\n",
				guest);
			cli_list_exports(sb, stderr, "  ");
		}
		callbox_value_free(&result);
		return CLI_EXIT_FAIL;
	}
	ret = cli_print_result(&result, raw);
	callbox_value_free(&result);
	return ret;
}

int cli_run(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SANDBOX_LONG_OPTIONS,
		{ "list", no_argument, NULL, 'L' },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
		{ "save-snapshot", required_argument, NULL, OPT_SAVE_SNAPSHOT },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *guest, *function, *snapshot = NULL, *save = NULL;
	struct callbox_sandbox *sb;
	struct callbox_config cfg;
	bool list = false, raw = false;
	struct cli_args args;
	int opt, ret;

	cli_config_init(&cfg);
	while ((opt = getopt_long(argc, argv, "+" CLI_SANDBOX_SHORT_OPTIONS "Lh",
				  opts, NULL)) != -1) {
		ret = cli_sandbox_option(opt, optarg, &cfg);
		if (!ret)
			continue;
		if (ret != -ENOENT)
			return CLI_EXIT_USAGE;
		switch (opt) {
		case 'L':
			list = true;
			break;
		case OPT_RAW:
			raw = true;
			break;
		case OPT_SNAPSHOT:
			snapshot = optarg;
			break;
		case OPT_SAVE_SNAPSHOT:
			save = optarg;
			break;
		case 'h':
			cli_run_usage(stdout);
			return CLI_EXIT_OK;
		default:
			cli_run_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	/* With --snapshot, the file takes GUEST's place. */
	if (snapshot) {
		guest = snapshot;
	} else if (argc - optind < 1) {
		fprintf(stderr, "callbox: run needs GUEST\n");
		cli_run_usage(stderr);
		return CLI_EXIT_USAGE;
	} else {
		guest = argv[optind++];
	}
	if (list && argc - optind > 0) {
		fprintf(stderr, "callbox: --list takes GUEST only, not a FUNCTION or arguments\n");
		return CLI_EXIT_USAGE;
	}
	function = argc - optind > 0 ? argv[optind] : NULL;

	ret = CLI_EXIT_USAGE;
	if (function &&
	    cli_args_parse(&args, argc - optind - 1, argv + optind + 1))
		goto out_args;
	ret = CLI_EXIT_FAIL;
	if (cli_sandbox_open(&cfg, guest, snapshot, &sb))
		goto out_args;
	if (function) {
		ret = run_call(sb, guest, function, &args, raw);
	} else if (list || !save) {
		/* --save-snapshot alone saves quietly; --list still lists. */
		cli_list_exports(sb, stdout, "");
		ret = CLI_EXIT_OK;
	} else {
		ret = CLI_EXIT_OK;
	}
	if (save && ret == CLI_EXIT_OK &&
	    (callbox_sandbox_snapshot(sb) || callbox_sandbox_save(sb, save))) {
		fprintf(stderr, "callbox: %s\n", callbox_sandbox_last_error(sb));
		ret = CLI_EXIT_FAIL;
	}
	callbox_sandbox_free(sb);
out_args:
	if (function)
		cli_args_free(&args);
	return ret;
}

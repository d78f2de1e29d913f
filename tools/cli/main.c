// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox CLI: the command-line front end of libcallbox, a table of
 * subcommands. This file holds the table and dispatches to its entries,
 * and answers `callbox --help`, `callbox help [COMMAND]` and
 * `callbox --version`:
 *
 *   callbox run [OPTIONS] GUEST FUNCTION [ARG...]
 *   callbox list [OPTIONS] GUEST
 *   callbox ps [--json] [SANDBOX-ID]
 *   callbox monitor [--json]
 *   callbox help [COMMAND]
 *   callbox --version
 *
 * A new subcommand is a file with its function and its usage, and a line
 * in the table.
 */
#include <string.h>

#include "cli.h"

static int cmd_help(int argc, char **argv);
static void help_usage(FILE *f);

/**
 * struct command - one subcommand
 * @name: what selects it, argv[1]
 * @fn: it, given the command line from its name on; returns the exit
 *	status
 * @usage: prints its help
 * @synopsis: its usage line, after "callbox "
 * @summary: what it does, in one line
 */
struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	void (*usage)(FILE *f);
	const char *synopsis;
	const char *summary;
};

static const struct command commands[] = {
	{ "run", cli_run, cli_run_usage,
	  "run [OPTIONS] GUEST FUNCTION [ARG...]",
	  "call a guest's function and print its result" },
	{ "list", cli_list, cli_list_usage,
	  "list [OPTIONS] GUEST",
	  "list a guest's functions and their signatures" },
	{ "ps", cli_ps, cli_ps_usage,
	  "ps [--json] [SANDBOX-ID]",
	  "list every sandbox, or show one with its calls" },
	{ "monitor", cli_monitor, cli_monitor_usage,
	  "monitor [--json]",
	  "print sandbox and call events as they happen" },
	{ "help", cmd_help, help_usage,
	  "help [COMMAND]",
	  "show the help of COMMAND, or this help" },
};

static const struct command *find_command(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	}
	return NULL;
}

/* The top-level help: every command's synopsis and summary. */
static void usage(FILE *f)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "%s callbox %s\n", i ? "      " : "Usage:",
			commands[i].synopsis);
	fputs("       callbox --version\n"
	      "\n"
	      "Run functions of static ELF guests, each in a new KVM micro-VM, and\n"
	      "see what every sandbox and call is doing.\n"
	      "\n"
	      "Commands:\n", f);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name,
			commands[i].summary);
	fputs("\n"
	      "'callbox help COMMAND' or 'callbox COMMAND --help' shows the\n"
	      "options and arguments of COMMAND.\n"
	      "\n"
	      "run and list need /dev/kvm and /dev/callbox (callbox.ko loaded); ps\n"
	      "and monitor need callbox.ko's generic netlink family.\n"
	      "Exit status: 0 on success, 1 if the guest or the call failed, 2 on\n"
	      "bad usage.\n", f);
}

static void help_usage(FILE *f)
{
	fputs("Usage: callbox help [COMMAND]\n"
	      "\n"
	      "Show the help of COMMAND, or without COMMAND the list of commands.\n",
	      f);
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "callbox: unknown command '%s'\n"
		"Try 'callbox --help' for the list of commands.\n", name);
	return CLI_EXIT_USAGE;
}

/* `callbox help [COMMAND]`; argv[0] is "help". */
static int cmd_help(int argc, char **argv)
{
	const struct command *cmd;

	if (argc > 2) {
		fprintf(stderr, "callbox: help takes one COMMAND at most\n");
		help_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (argc == 1) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		help_usage(stdout);
		return CLI_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return unknown_command(argv[1]);
	cmd->usage(stdout);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("callbox %s\n", CALLBOX_VERSION);
		return CLI_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return unknown_command(argv[1]);
	return cmd->fn(argc - 1, argv + 1);
}

/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * callbox CLI: the private interface between its files: the subcommands,
 * and the helpers they share.
 */
#ifndef CALLBOX_CLI_H
#define CALLBOX_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <callbox/callbox.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit statuses of every command. */
#define CLI_EXIT_OK	0	/* done: the call returned, the list printed */
#define CLI_EXIT_FAIL	1	/* the sandbox, the guest or the call failed */
#define CLI_EXIT_USAGE	2	/* bad usage, a bad ARG included */

/* ---- subcommands (run.c list.c ps.c monitor.c), run by main.c ---- */

/*
 * Each takes the command line from its own name on (argv[0] is "run"),
 * returns a CLI_EXIT_* status, and prints its help with its usage
 * function, to stdout for --help and to stderr for bad usage.
 */
int cli_run(int argc, char **argv);
void cli_run_usage(FILE *f);
int cli_list(int argc, char **argv);
void cli_list_usage(FILE *f);
int cli_ps(int argc, char **argv);
void cli_ps_usage(FILE *f);
int cli_monitor(int argc, char **argv);
void cli_monitor_usage(FILE *f);

/* list.c: GUEST's functions and signatures, one a line after @indent. */
void cli_list_exports(struct callbox_sandbox *sb, FILE *f,
		      const char *indent);

/* ---- what ps and monitor share (inspect.c) ---- */

/* Room for every call flag's name, and unknown bits in hex. */
#define CLI_FLAGS_MAX	256

/* A name of the kernel's number, or the number ("state-9") in @buf. */
const char *cli_call_state(uint32_t state, char *buf, size_t len);
const char *cli_abort_reason(uint32_t reason, char *buf, size_t len);
const char *cli_sandbox_state(uint32_t state, char *buf, size_t len);
const char *cli_call_flags(uint32_t flags, char *buf, size_t len);
const char *cli_duration(uint64_t ns, char *buf, size_t len);
void cli_json_flags(FILE *f, uint32_t flags);
void cli_json_string(FILE *f, const char *s);
int cli_inspect_error(int err);

/* ---- the sandbox (sandbox.c) ---- */

/* getopt_long() option values of the sandbox options with no letter. */
enum {
	CLI_OPT_INPUT_SIZE = 256,
	CLI_OPT_OUTPUT_SIZE,
	CLI_OPT_INIT_TIMEOUT,
	CLI_OPT_FIRST_FREE,	/* where a command's own options start */
};

/*
 * The options every command that makes a sandbox takes, for its
 * getopt_long() short option string and its &struct option table.
 */
#define CLI_SANDBOX_SHORT_OPTIONS "m:s:H:t:l:"
#define CLI_SANDBOX_LONG_OPTIONS					\
	{ "mem", required_argument, NULL, 'm' },			\
	{ "stack", required_argument, NULL, 's' },			\
	{ "heap", required_argument, NULL, 'H' },			\
	{ "input-size", required_argument, NULL, CLI_OPT_INPUT_SIZE },	\
	{ "output-size", required_argument, NULL, CLI_OPT_OUTPUT_SIZE }, \
	{ "timeout", required_argument, NULL, 't' },			\
	{ "init-timeout", required_argument, NULL, CLI_OPT_INIT_TIMEOUT }, \
	{ "log-level", required_argument, NULL, 'l' }

void cli_config_init(struct callbox_config *cfg);
int cli_sandbox_option(int opt, const char *arg, struct callbox_config *cfg);
void cli_sandbox_options_usage(FILE *f);
int cli_sandbox_open(const struct callbox_config *cfg, const char *guest,
		     bool snapshot, struct callbox_sandbox **sb);

/* ---- the host functions the guest may call (host_fns.c) ---- */

int cli_add_host_fns(struct callbox_sandbox *sb);
void cli_host_fns_usage(FILE *f);

/* ---- TYPE:VALUE arguments (args.c) ---- */

/**
 * struct cli_args - the typed arguments of one call
 * @v: the values; each is freed by cli_args_free()
 * @n: how many
 */
struct cli_args {
	struct callbox_wire_value v[CALLBOX_MAX_PARAMS];
	unsigned int n;
};

int cli_args_parse(struct cli_args *args, int argc, char **argv);
void cli_args_free(struct cli_args *args);
void cli_args_usage(FILE *f);

/* ---- the result (print.c) ---- */

int cli_print_result(const struct callbox_wire_value *v, bool raw);
void cli_print_usage(FILE *f);

#endif /* CALLBOX_CLI_H */

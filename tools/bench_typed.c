// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox benchmark: what values and host calls add to a no-op call.
 * Typed calls through callbox_call() of growing size, and one with a
 * host call, on the example guests echo.elf and host.elf, each against a
 * typed call that passes nothing, measured in the same rounds; printed
 * after the figures' table, as medians and ratios (not figures of the
 * report, and not run with --quick).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callbox/callbox.h>

#include "bench.h"
#include "bench_util.h"

#define TYPED_ROUNDS	5
#define TYPED_PER_ROUND	200
#define TYPED_SAMPLES	(TYPED_ROUNDS * TYPED_PER_ROUND)

struct typed_case {
	const char *label;
	struct callbox_sandbox *sb;
	const char *function;
	struct callbox_wire_value args[32];
	unsigned int nr_args;
	uint64_t t[TYPED_SAMPLES];
};

static int bench_transform(struct callbox_sandbox *sb,
			   const struct callbox_wire_value *args,
			   struct callbox_wire_writer *result, void *opaque)
{
	(void)sb;
	(void)opaque;
	return callbox_wire_put_i64(result, 2 * args[0].i64);
}

static struct callbox_sandbox *typed_sandbox(const char *guest)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	int ret;

	callbox_config_init(&cfg);
	cfg.input_size = 64 << 10;
	cfg.output_size = 64 << 10;
	cfg.max_calls = 1;
	ret = callbox_sandbox_new(&cfg, &sb);
	if (ret)
		die("callbox_sandbox_new", -ret);
	if (callbox_sandbox_add_host_fn(sb, "transform", "i64(i64)",
					bench_transform, NULL) ||
	    callbox_sandbox_load(sb, guest)) {
		fprintf(stderr, "bench: %s: %s\n", guest, callbox_sandbox_last_error(sb));
		exit(1);
	}
	return sb;
}

static void typed_call(struct typed_case *c)
{
	struct callbox_wire_value r;

	if (callbox_call(c->sb, c->function, c->args, c->nr_args, &r)) {
		fprintf(stderr, "bench: %s: %s\n", c->function,
			callbox_sandbox_last_error(c->sb));
		exit(1);
	}
	callbox_value_free(&r);
}

/*
 * Typed calls on the example guests echo.elf and host.elf, beside them in
 * @dir, interleaved in rounds; each is printed against the first, a call
 * that passes nothing, measured in the same rounds.
 */
void bench_typed(const char *dir)
{
	static char text[1024 + 1];
	static uint8_t blob[60 << 10];
	static struct typed_case cases[6];
	struct callbox_sandbox *echo, *host;
	char path[4096 + 16];
	unsigned int i, k, j, n = 0;
	uint64_t t0, base;

	snprintf(path, sizeof(path), "%s/echo.elf", dir);
	echo = typed_sandbox(path);
	snprintf(path, sizeof(path), "%s/host.elf", dir);
	host = typed_sandbox(path);
	memset(text, 't', sizeof(text) - 1);
	memset(blob, 0xb5, sizeof(blob));

	cases[0] = (struct typed_case){ .label = "nothing(): void, no arguments",
					.sb = echo, .function = "nothing" };
	cases[1] = (struct typed_case){ .label = "echo_i64(i64)", .sb = echo,
					.function = "echo_i64", .nr_args = 1 };
	cases[1].args[0] = CALLBOX_I64(-1);
	cases[2] = (struct typed_case){ .label = "sum32(32 x i64)", .sb = echo,
					.function = "sum32", .nr_args = 32 };
	for (i = 0; i < 32; i++)
		cases[2].args[i] = CALLBOX_I64(i);
	cases[3] = (struct typed_case){ .label = "echo_string(1 KiB)",
					.sb = echo, .function = "echo_string",
					.nr_args = 1 };
	cases[3].args[0] = CALLBOX_STRING(text);
	cases[4] = (struct typed_case){ .label = "echo_bytes(60 KiB)",
					.sb = echo, .function = "echo_bytes",
					.nr_args = 1 };
	cases[4].args[0] = CALLBOX_BYTES(blob, sizeof(blob));
	cases[5] = (struct typed_case){ .label = "via_host(i64): 1 host call",
					.sb = host, .function = "via_host",
					.nr_args = 1 };
	cases[5].args[0] = CALLBOX_I64(20);

	for (k = 0; k < 6; k++)
		for (i = 0; i < 50; i++)
			typed_call(&cases[k]);
	for (j = 0; j < TYPED_ROUNDS; j++) {
		for (k = 0; k < 6; k++) {
			for (i = 0; i < TYPED_PER_ROUND; i++) {
				t0 = now_ns();
				typed_call(&cases[k]);
				cases[k].t[n + i] = now_ns() - t0;
			}
		}
		n += TYPED_PER_ROUND;
	}

	printf("typed calls through callbox_call(), medians of %d:\n",
	       TYPED_SAMPLES);
	base = median(cases[0].t, TYPED_SAMPLES);
	for (k = 0; k < 6; k++) {
		uint64_t m = k ? median(cases[k].t, TYPED_SAMPLES) : base;

		printf("  %-38s %9.1f us  %.2fx nothing()\n", cases[k].label,
		       m / 1000.0, (double)m / base);
	}
	callbox_sandbox_free(host);
	callbox_sandbox_free(echo);
}

// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: a sandbox's configuration, its defaults and its rules. Each
 * default lives here (and its value in callbox/callbox.h or
 * callbox/abi.h) and nowhere else.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "layout.h"
#include "sandbox.h"

void callbox_config_init(struct callbox_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = CALLBOX_DEFAULT_MEM_SIZE;
	cfg->log_level = CALLBOX_DEFAULT_LOG_LEVEL;
	cfg->stack_size = CALLBOX_DEFAULT_STACK_SIZE;
	cfg->max_calls = CALLBOX_DEFAULT_MAX_CALLS;
	cfg->input_size = CALLBOX_DEFAULT_IO_BUFFER;
	cfg->output_size = CALLBOX_DEFAULT_IO_BUFFER;
	cfg->init_timeout_ns = CALLBOX_DEFAULT_INIT_TIMEOUT_NS;
}

static bool config_io_size_ok(uint64_t size)
{
	return size >= CALLBOX_IO_BUFFER_MIN && size <= CALLBOX_IO_BUFFER_MAX &&
	       !(size % CALLBOX_IO_BUFFER_MIN);
}

/*
 * Check sb->cfg before anything is built from it, fill in the defaults of
 * fields left 0, and place the I/O area (sb->io_base). Returns 0 or
 * -EINVAL with the reason.
 */
int sandbox_check_config(struct callbox_sandbox *sb)
{
	struct callbox_config *cfg = &sb->cfg;
	uint64_t guard, io_size;
	char err[256];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(cfg->reserved) / sizeof(cfg->reserved[0]); i++) {
		if (cfg->reserved[i])
			return sandbox_fail(sb, -EINVAL,
					    "config: reserved field %zu is not zero (use callbox_config_init())",
					    i);
	}
	if (cfg->flags & ~CALLBOX_CONFIG_FLAGS_MASK)
		return sandbox_fail(sb, -EINVAL,
				    "config: unknown flags %#" PRIx64,
				    (uint64_t)(cfg->flags & ~CALLBOX_CONFIG_FLAGS_MASK));
	/* 0 in a field added after reserved ones were zeroed: the default. */
	if (!cfg->max_calls)
		cfg->max_calls = CALLBOX_DEFAULT_MAX_CALLS;
	if (!cfg->input_size)
		cfg->input_size = CALLBOX_DEFAULT_IO_BUFFER;
	if (!cfg->output_size)
		cfg->output_size = CALLBOX_DEFAULT_IO_BUFFER;
	if (!cfg->init_timeout_ns)
		cfg->init_timeout_ns = CALLBOX_DEFAULT_INIT_TIMEOUT_NS;
	if (cfg->max_calls > CALLBOX_MAX_CALLS)
		return sandbox_fail(sb, -EINVAL,
				    "config: max_calls %u is not 1 to %d",
				    cfg->max_calls, CALLBOX_MAX_CALLS);
	if (!config_io_size_ok(cfg->input_size))
		return sandbox_fail(sb, -EINVAL,
				    "config: input buffer size %" PRIu64 " bytes is not a multiple of 4 KiB from %llu KiB to %llu MiB",
				    cfg->input_size, CALLBOX_IO_BUFFER_MIN >> 10,
				    CALLBOX_IO_BUFFER_MAX >> 20);
	if (!config_io_size_ok(cfg->output_size))
		return sandbox_fail(sb, -EINVAL,
				    "config: output buffer size %" PRIu64 " bytes is not a multiple of 4 KiB from %llu KiB to %llu MiB",
				    cfg->output_size, CALLBOX_IO_BUFFER_MIN >> 10,
				    CALLBOX_IO_BUFFER_MAX >> 20);
	if (cfg->log_level > CALLBOX_LOG_TRACE)
		return sandbox_fail(sb, -EINVAL,
				    "config: log level %u is not 0 (none) to %u (trace)",
				    cfg->log_level, CALLBOX_LOG_TRACE);
	ret = callbox_layout_check(cfg->mem_size, cfg->stack_size, err,
				   sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "config: %s", err);
	/* The I/O area, below the guard page, leaves a page for an image. */
	guard = CALLBOX_STACK_GUARD(cfg->mem_size, cfg->stack_size);
	io_size = callbox_io_size(cfg->input_size, cfg->output_size,
				  cfg->max_calls);
	if (io_size > guard - CALLBOX_GPA_IMAGE_MIN - 0x1000)
		return sandbox_fail(sb, -EINVAL,
				    "config: %u calls' I/O buffers of %" PRIu64 " + %" PRIu64 " KiB (%" PRIu64 " KiB in all) leave no room for the image in %" PRIu64 " MiB of memory",
				    cfg->max_calls, cfg->input_size >> 10,
				    cfg->output_size >> 10, io_size >> 10,
				    cfg->mem_size >> 20);
	sb->io_base = guard - io_size;
	return 0;
}

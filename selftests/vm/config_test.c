// SPDX-License-Identifier: GPL-2.0
/*
 * A sandbox's configuration and its load, through libcallbox: stack and
 * heap sizes are the configuration's and checked at load, a guest that
 * exhausts its heap gets a clean error and recovers, and a load that
 * cannot be says why.
 */
#include <callbox/callbox.h>

#include "sdk_util.h"

/*
 * A guest that allocates until its heap is exhausted gets NULL, a clean
 * error it can handle, and all the memory back when it frees.
 */
TEST(heap_exhaustion)
{
	struct callbox_sandbox *sb = load(NULL, "fault");
	int64_t block = 4096, r = 0;

	ASSERT_EQ(0, callbox_call_int(sb, "exhaust_heap", &block, 1, &r)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	/*
	 * The heap is what lies between the image (above 1 MiB) and the
	 * I/O buffers below the stack guard (260 KiB below 4 MiB): 17 pairs
	 * of a 16 KiB input and a 16 KiB output buffer (16 calls and the
	 * host call), 544 KiB. That leaves about 2.19 MiB: 560 blocks.
	 */
	EXPECT_LT(530, r);
	EXPECT_GT(570, r);
	TH_LOG("%lld blocks of 4 KiB", (long long)r);
	/* The guest is healthy afterwards. */
	EXPECT_EQ(0, callbox_call_int(sb, "exhaust_heap", &block, 1, &r));
	callbox_sandbox_free(sb);
}

/* Stack and heap sizes are the configuration's, and checked at load. */
TEST(config_sizes)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	int64_t arg, r = 0;

	/* A 64 KiB stack overflows sooner, and the error says its size. */
	callbox_config_init(&cfg);
	cfg.stack_size = 64 << 10;
	sb = load(&cfg, "fault");
	arg = 1000000;
	EXPECT_EQ(-EIO, callbox_call_int(sb, "stack_overflow", &arg, 1, &r));
	EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(sb), "below the 64 KiB stack"));
	callbox_sandbox_free(sb);

	/* 256 KiB of heap: about 63 blocks of 4 KiB, then NULL. */
	callbox_config_init(&cfg);
	cfg.heap_size = 256 << 10;
	sb = load(&cfg, "fault");
	arg = 4096;
	EXPECT_EQ(0, callbox_call_int(sb, "exhaust_heap", &arg, 1, &r));
	EXPECT_LT(55, r);
	EXPECT_GE(64, r);
	callbox_sandbox_free(sb);

	/* Layouts that cannot be: clear errors, no sandbox. */
	callbox_config_init(&cfg);
	cfg.heap_size = 64 << 20;
	EXPECT_EQ(-EINVAL, _load(&cfg, "fault", &sb));
	EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(sb), "heap does not fit"));
	TH_LOG("%s", callbox_sandbox_last_error(sb));
	callbox_sandbox_free(sb);

	callbox_config_init(&cfg);
	cfg.stack_size = 3 << 20;
	EXPECT_EQ(-EINVAL, _load(&cfg, "fault", &sb));
	EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(sb), "stack size"));
	callbox_sandbox_free(sb);
}

TEST(load_errors)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;

	sb = sandbox_new(NULL);
	EXPECT_EQ(-ENOENT, callbox_sandbox_load(sb, "/nonexistent.elf"));
	EXPECT_EQ(-ENOEXEC, callbox_sandbox_load(sb, "/proc/self/status"));
	EXPECT_EQ(-EBADF, callbox_call_int(sb, "add", NULL, 0, NULL));
	callbox_sandbox_free(sb);

	callbox_config_init(&cfg);
	cfg.mem_size = 3 << 20;
	sb = sandbox_new(&cfg);
	load_into_err(EINVAL, sb, "arith");
	EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(sb), "config"));
	callbox_sandbox_free(sb);

	/* Loading twice into one sandbox. */
	sb = load(NULL, "arith");
	load_into_err(EALREADY, sb, "arith");
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN

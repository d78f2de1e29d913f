// SPDX-License-Identifier: GPL-2.0
/*
 * Every failure of a libcallbox function leaves a message that names the
 * problem, in callbox_sandbox_last_error() and the outcome's: host
 * function registration, the config and the guest file at load, a
 * sandbox with no guest loaded, the calls' own failures, before and
 * after the guest runs, too many calls, a poisoned sandbox, the end of
 * the export table. The same condition gets the same errno: a deadline
 * that passes with nothing to run or collect is -ETIME everywhere,
 * -ETIMEDOUT only a call's own deadline. And callbox_sandbox_new() says
 * why it failed, out of memory too.
 *
 * callbox_sandbox_new()'s allocation failure is injected: the program is
 * linked with -Wl,--wrap=calloc (see the Makefile), and __wrap_calloc()
 * below fails the calling thread's Nth calloc() from the moment it is
 * armed.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <callbox/abi.h>
#include <callbox/callbox.h>

#include "sdk_util.h"

/* ---- calloc() failure injection (-Wl,--wrap=calloc) ---- */

void *__real_calloc(size_t nmemb, size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);

/* This thread's callocs since the program started, and which one fails. */
static __thread unsigned long calloc_calls;
static __thread unsigned long calloc_fail_at;

void *__wrap_calloc(size_t nmemb, size_t size)
{
	if (++calloc_calls == calloc_fail_at) {
		calloc_fail_at = 0;
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(nmemb, size);
}

/* Make this thread's @n-th calloc() from now (1: the next) fail. */
static void calloc_fail_nth(unsigned long n)
{
	calloc_fail_at = calloc_calls + n;
}

/* ---- helpers ---- */

/*
 * Make the calling thread's last libcallbox function one on no loaded
 * sandbox, so that callbox_sandbox_last_error(sb) is "" for every sb:
 * whatever message it has next, the next function wrote.
 */
static void forget_outcome(void)
{
	struct callbox_sandbox *tmp;

	if (!callbox_sandbox_new(NULL, &tmp))
		callbox_sandbox_free(tmp);
}

/*
 * A failure, expected: the call returns -@_errno, and the calling thread's
 * message, which was empty before, names the problem (@needle).
 */
#define EXPECT_FAILURE(sb, _errno, needle, expr)                          \
	({                                                                \
		const struct callbox_outcome *__o;                        \
		int __ret;                                                \
		forget_outcome();                                         \
		__ret = (expr);                                           \
		__o = callbox_sandbox_last_outcome(sb);                   \
		EXPECT_EQ(-(_errno), __ret) {                             \
			TH_LOG("%s: %d (%s)", #expr, __ret,               \
			       callbox_sandbox_last_error(sb));           \
		}                                                         \
		EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(sb),    \
				       needle)) {                         \
			TH_LOG("%s: message \"%s\" does not say \"%s\"",  \
			       #expr, callbox_sandbox_last_error(sb),     \
			       needle);                                   \
		}                                                         \
		EXPECT_EQ(__ret, __o->error);                             \
		EXPECT_STREQ(callbox_sandbox_last_error(sb), __o->message); \
		__ret;                                                    \
	})

/* ---- the same condition, the same errno: -ETIME ---- */

TEST(deadline_with_nothing_is_etime)
{
	struct callbox_sandbox *sb = load(NULL, "arith");
	struct callbox_wire_value v;
	struct callbox_outcome o;
	uint64_t id;

	/* No call came before the runner's deadline. */
	EXPECT_FAILURE(sb, ETIME, "no call was submitted in time",
		       callbox_call_run(sb, callbox_deadline_after(10000000)));

	/* The waiter's deadline passed before the call ended. */
	ASSERT_EQ(0, callbox_call_submit(sb, "add",
					 (struct callbox_wire_value[]){
						CALLBOX_I64(2), CALLBOX_I64(3) },
					 2, 0, &id));
	EXPECT_FAILURE(sb, ETIME, "has not ended yet",
		       callbox_call_wait(sb, id, callbox_deadline_after(10000000),
					 &v, &o));
	EXPECT_EQ(-ETIME, o.error);
	EXPECT_STREQ(callbox_sandbox_last_error(sb), o.message);

	/* The call goes on, and is collected as usual. */
	ASSERT_EQ(0, callbox_call_run(sb, 0));
	ASSERT_EQ(0, callbox_call_wait(sb, id, 0, &v, &o));
	EXPECT_EQ(5, v.i64);
	EXPECT_EQ(id, o.call.id);
	EXPECT_STREQ("", o.message);

	/* -ETIMEDOUT is only ever a call's own deadline. */
	ASSERT_EQ(0, callbox_call_submit(sb, "add",
					 (struct callbox_wire_value[]){
						CALLBOX_I64(2), CALLBOX_I64(3) },
					 2, 1, &id));
	EXPECT_FAILURE(sb, ETIMEDOUT, "deadline passed",
		       callbox_call_wait(sb, id, 0, &v, &o));
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, o.call.reason);
	callbox_sandbox_free(sb);
}

/* ---- every failure leaves a message ---- */

static int noop_host_fn(struct callbox_sandbox *sb,
			const struct callbox_wire_value *args,
			struct callbox_wire_writer *result, void *opaque)
{
	(void)sb;
	(void)args;
	(void)result;
	(void)opaque;
	return 0;
}

TEST(host_fn_registration_messages)
{
	struct callbox_sandbox *sb, *loaded;
	char name[80];
	int i;

	sb = sandbox_new(NULL);
	EXPECT_FAILURE(sb, EINVAL, "host function name ''",
		       callbox_sandbox_add_host_fn(sb, "", "void()",
						   noop_host_fn, NULL));
	EXPECT_FAILURE(sb, EINVAL, "'two words': byte 3",
		       callbox_sandbox_add_host_fn(sb, "two words", "void()",
						   noop_host_fn, NULL));
	memset(name, 'n', 64);
	name[64] = '\0';
	EXPECT_FAILURE(sb, EINVAL, "is not 1 to 63 bytes long",
		       callbox_sandbox_add_host_fn(sb, name, "void()",
						   noop_host_fn, NULL));
	EXPECT_FAILURE(sb, EINVAL, "host function nofn: no function",
		       callbox_sandbox_add_host_fn(sb, "nofn", "void()", NULL,
						   NULL));
	EXPECT_FAILURE(sb, EINVAL, "host function badsig: ",
		       callbox_sandbox_add_host_fn(sb, "badsig", "i64(",
						   noop_host_fn, NULL));
	EXPECT_FAILURE(sb, EINVAL, "host function badtype: ",
		       callbox_sandbox_add_host_fn(sb, "badtype", "i65()",
						   noop_host_fn, NULL));

	/* The failures registered nothing: up to 256 fit. */
	for (i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "fn%d", i);
		ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, name, "void()",
							 noop_host_fn, NULL)) {
			TH_LOG("%s: %s", name, callbox_sandbox_last_error(sb));
		}
		EXPECT_STREQ("", callbox_sandbox_last_error(sb));
	}
	EXPECT_FAILURE(sb, EEXIST, "host function fn7 is registered already",
		       callbox_sandbox_add_host_fn(sb, "fn7", "void()",
						   noop_host_fn, NULL));
	EXPECT_FAILURE(sb, ENOSPC, "host function fn256: 256 are registered",
		       callbox_sandbox_add_host_fn(sb, "fn256", "void()",
						   noop_host_fn, NULL));
	callbox_sandbox_free(sb);

	loaded = load(NULL, "arith");
	EXPECT_FAILURE(loaded, EBUSY, "late: register host functions before",
		       callbox_sandbox_add_host_fn(loaded, "late", "void()",
						   noop_host_fn, NULL));
	callbox_sandbox_free(loaded);
}

/* A config field out of range, and what the message must say. */
struct bad_config {
	void (*set)(struct callbox_config *cfg);
	const char *message;
};

static void cfg_reserved(struct callbox_config *c)
{
	c->reserved[3] = 1;
}

static void cfg_flags(struct callbox_config *c)
{
	c->flags = CALLBOX_CONFIG_FRESH_CALLS | (1ull << 40);
}

static void cfg_max_calls(struct callbox_config *c)
{
	c->max_calls = 65;
}

static void cfg_input(struct callbox_config *c)
{
	c->input_size = 5000;
}

static void cfg_output(struct callbox_config *c)
{
	c->output_size = 3;
}

static void cfg_log_level(struct callbox_config *c)
{
	c->log_level = 9;
}

static void cfg_mem(struct callbox_config *c)
{
	c->mem_size = 3ull << 20;	/* not a multiple of 2 MiB */
}

static void cfg_stack(struct callbox_config *c)
{
	c->stack_size = 1000;
}

/* 64 calls' buffers of 64 + 64 KiB: 8 MiB, in 4 MiB of memory. */
static void cfg_io(struct callbox_config *c)
{
	c->max_calls = 64;
	c->input_size = 64u << 10;
	c->output_size = 64u << 10;
}

/* A 3 MiB heap in 4 MiB, beside the image, the stack and the buffers. */
static void cfg_heap(struct callbox_config *c)
{
	c->heap_size = 3ull << 20;
}

TEST(load_messages)
{
	static const struct bad_config bad[] = {
		{ cfg_reserved, "config: reserved field 3 is not zero" },
		{ cfg_flags, "config: unknown flags 0x10000000000" },
		{ cfg_max_calls, "config: max_calls 65 is not 1 to 64" },
		{ cfg_input, "config: input buffer size 5000 bytes" },
		{ cfg_output, "config: output buffer size 3 bytes" },
		{ cfg_log_level, "config: log level 9 is not" },
		{ cfg_mem, "config: " },
		{ cfg_stack, "config: " },
		{ cfg_io, "leave no room for the image" },
		{ cfg_heap, "heap does not fit" },
	};
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	const char *not_elf = "/tmp/outcome_test_not_an_elf";
	unsigned int i;
	int fd;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		callbox_config_init(&cfg);
		bad[i].set(&cfg);
		sb = sandbox_new(&cfg);
		EXPECT_FAILURE(sb, EINVAL, bad[i].message,
			       callbox_sandbox_load(sb, GUEST_DIR "/arith.elf"));
		callbox_sandbox_free(sb);
	}

	sb = sandbox_new(NULL);
	EXPECT_FAILURE(sb, ENOENT, GUEST_DIR "/no_such_guest.elf",
		       callbox_sandbox_load(sb, GUEST_DIR "/no_such_guest.elf"));
	EXPECT_FAILURE(sb, EINVAL, GUEST_DIR ": not a regular file",
		       callbox_sandbox_load(sb, GUEST_DIR));
	fd = open(not_elf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(13, write(fd, "not an ELF!!\n", 13));
	close(fd);
	EXPECT_FAILURE(sb, ENOEXEC, not_elf, callbox_sandbox_load(sb, not_elf));
	unlink(not_elf);

	/* The failed loads left it empty: a load works, and only one. */
	load_into(sb, "arith");
	EXPECT_STREQ("", callbox_sandbox_last_error(sb));
	EXPECT_FAILURE(sb, EALREADY, "already loaded",
		       callbox_sandbox_load(sb, GUEST_DIR "/arith.elf"));
	callbox_sandbox_free(sb);
}

/* Every function on a sandbox with no guest loaded. */
TEST(not_loaded_messages)
{
	struct callbox_call_info info;
	struct callbox_sandbox *sb;
	int64_t two[2] = { 1, 2 };
	uint64_t id;

	sb = sandbox_new(NULL);
	EXPECT_FAILURE(sb, EBADF, "no guest loaded",
		       callbox_call(sb, "add", NULL, 0, NULL));
	EXPECT_FAILURE(sb, EBADF, "no guest loaded",
		       callbox_call_int(sb, "add", two, 2, NULL));
	EXPECT_FAILURE(sb, EBADF, "no guest loaded",
		       callbox_call_submit(sb, "add", NULL, 0, 0, &id));
	EXPECT_FAILURE(sb, EBADF, "no guest loaded",
		       callbox_sandbox_reset(sb));
	EXPECT_FAILURE(sb, EBADF, "call 5: ",
		       callbox_call_wait(sb, 5, 0, NULL, NULL));
	EXPECT_FAILURE(sb, EBADF, "call 6: ", callbox_call_cancel(sb, 6));
	EXPECT_FAILURE(sb, EBADF, "call 7: ", callbox_call_get(sb, 7, &info));
	EXPECT_FAILURE(sb, ETIME, "no call was submitted in time",
		       callbox_call_run(sb, callbox_deadline_after(1000000)));
	callbox_sandbox_free(sb);
}

/* The calls' own failures, before and after the guest runs. */
TEST(call_messages)
{
	struct callbox_wire_value repeat_args[2] = {
		CALLBOX_STRING("ab"), CALLBOX_U32(0xffffffff),
	};
	struct callbox_sandbox *sb = load(NULL, "strings");
	struct callbox_wire_value v, big_arg;
	struct callbox_call_info info;
	int64_t many[33] = { 0 };
	char name[80], *big;
	uint64_t id;

	EXPECT_FAILURE(sb, ENOENT, "no function named 'no_such_function'",
		       callbox_call(sb, "no_such_function", NULL, 0, &v));
	EXPECT_FAILURE(sb, ENOENT, "no function named 'no_such_function'",
		       callbox_call_submit(sb, "no_such_function", NULL, 0, 0,
					   &id));
	EXPECT_FAILURE(sb, EINVAL, "reverse: 0 arguments given",
		       callbox_call(sb, "reverse", NULL, 0, &v));
	EXPECT_FAILURE(sb, EINVAL, "reverse",
		       callbox_call(sb, "reverse", ONE(CALLBOX_I64(1)), 1, &v));
	memset(name, 'f', 70);
	name[70] = '\0';
	EXPECT_FAILURE(sb, EINVAL, "is longer than 63 bytes",
		       callbox_call(sb, name, NULL, 0, &v));
	EXPECT_FAILURE(sb, EINVAL, "callbox_call_int() calls only functions of i64",
		       callbox_call_int(sb, "reverse", NULL, 0, NULL));
	EXPECT_FAILURE(sb, EINVAL, "33 arguments, at most 32",
		       callbox_call_int(sb, "no_such_function", many, 33,
					NULL));

	big = malloc(20000);
	ASSERT_NE(NULL, big);
	memset(big, 'b', 19999);
	big[19999] = '\0';
	big_arg = CALLBOX_STRING(big);
	EXPECT_FAILURE(sb, E2BIG, "reverse: the arguments do not fit",
		       callbox_call(sb, "reverse", &big_arg, 1, &v));
	free(big);

	/*
	 * The guest's own failure, in its words: repeat() refuses a result
	 * longer than any buffer, with callbox_fail().
	 */
	EXPECT_FAILURE(sb, EREMOTEIO, "repeat: a result of",
		       callbox_call(sb, "repeat", repeat_args, 2, &v));

	/* Ids: unknown, collected, not ended, ended. */
	EXPECT_FAILURE(sb, ENOENT, "call 424242: ",
		       callbox_call_wait(sb, 424242, 0, &v, NULL));
	EXPECT_FAILURE(sb, ENOENT, "call 424243: ",
		       callbox_call_cancel(sb, 424243));
	EXPECT_FAILURE(sb, ENOENT, "call 424244: ",
		       callbox_call_get(sb, 424244, &info));
	ASSERT_EQ(0, callbox_call_submit(sb, "reverse", ONE(CALLBOX_STRING("ab")),
					 1, 0, &id));
	EXPECT_FAILURE(sb, ETIME, "has not ended yet",
		       callbox_call_wait(sb, id, callbox_deadline_after(1000000),
					 &v, NULL));
	ASSERT_EQ(0, callbox_call_run(sb, 0));
	ASSERT_EQ(0, callbox_call_wait(sb, id, 0, &v, NULL));
	EXPECT_STREQ("ba", (const char *)v.data);
	callbox_value_free(&v);
	snprintf(name, sizeof(name), "call %" PRIu64 ": ", id);
	EXPECT_FAILURE(sb, ESRCH, name, callbox_call_wait(sb, id, 0, &v, NULL));
	snprintf(name, sizeof(name), "call %" PRIu64 " had ended already", id);
	/* Ended and collected: the kernel answers EALREADY. */
	EXPECT_FAILURE(sb, EALREADY, name, callbox_call_cancel(sb, id));

	/* Stopped runners. */
	callbox_call_run_stop(sb);
	EXPECT_FAILURE(sb, ESHUTDOWN, "the runners were stopped",
		       callbox_call_run(sb, 0));
	callbox_sandbox_free(sb);
}

/* Too many calls outstanding, with max_calls 1. */
TEST(too_many_calls_message)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	int64_t two[2] = { 1, 2 };
	uint64_t id, id2;

	callbox_config_init(&cfg);
	cfg.max_calls = 1;
	sb = load(&cfg, "arith");
	ASSERT_EQ(0, callbox_call_submit(sb, "add",
					 (struct callbox_wire_value[]){
						CALLBOX_I64(1), CALLBOX_I64(2) },
					 2, 0, &id));
	EXPECT_FAILURE(sb, EAGAIN, "add: 1 calls are outstanding already",
		       callbox_call_int(sb, "add", two, 2, NULL));
	EXPECT_FAILURE(sb, EAGAIN, "sub: 1 calls are outstanding already",
		       callbox_call_submit(sb, "sub",
					   (struct callbox_wire_value[]){
						CALLBOX_I64(1), CALLBOX_I64(2) },
					   2, 0, &id2));
	callbox_sandbox_free(sb);
}

/* A crash, then the poisoned sandbox, then the reset. */
TEST(poisoned_messages)
{
	struct callbox_sandbox *sb = load(NULL, "fault");
	int64_t r;

	EXPECT_FAILURE(sb, EIO, "null_deref: call ",
		       callbox_call_int(sb, "null_deref", NULL, 0, &r));
	EXPECT_FAILURE(sb, ENOTRECOVERABLE, "ok: ",
		       callbox_call_int(sb, "ok", NULL, 0, &r));
	ASSERT_EQ(0, callbox_sandbox_reset(sb));
	EXPECT_STREQ("", callbox_sandbox_last_error(sb));
	EXPECT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &r));
	EXPECT_EQ(7, r);
	callbox_sandbox_free(sb);
}

/* Past the last export: the lookup's end is a failure with a message too. */
TEST(export_past_end_message)
{
	struct callbox_sandbox *sb = load(NULL, "arith");
	char buf[128];
	unsigned int n;

	for (n = 0; !callbox_sandbox_export(sb, n, buf, sizeof(buf)); n++)
		EXPECT_STREQ("", callbox_sandbox_last_error(sb));
	EXPECT_LT(0, n);
	EXPECT_FAILURE(sb, ENOENT, "export",
		       callbox_sandbox_export(sb, n, buf, sizeof(buf)));
	callbox_sandbox_free(sb);
}

/* ---- callbox_sandbox_new() says why it failed ---- */

TEST(sandbox_new_out_of_memory)
{
	struct callbox_sandbox *sb = (struct callbox_sandbox *)&sb;
	unsigned long before = calloc_calls;
	int ret;

	calloc_fail_nth(1);
	ret = callbox_sandbox_new(NULL, &sb);
	ASSERT_NE(before, calloc_calls) {
		TH_LOG("callbox_sandbox_new() made no calloc() through __wrap_calloc(): is the test linked with -Wl,--wrap=calloc?");
	}
	EXPECT_EQ(0, calloc_fail_at);	/* the failure was used */
	EXPECT_EQ(-ENOMEM, ret);
	EXPECT_EQ(NULL, sb);
	EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(NULL),
			       "out of memory")) {
		TH_LOG("callbox_sandbox_last_error(NULL): \"%s\"",
		       callbox_sandbox_last_error(NULL));
	}
	EXPECT_EQ(-ENOMEM, callbox_sandbox_last_outcome(NULL)->error);
	if (!ret)
		callbox_sandbox_free(sb);

	/* Memory again: it works, and the message is gone. */
	ASSERT_EQ(0, callbox_sandbox_new(NULL, &sb));
	ASSERT_NE(NULL, sb);
	EXPECT_STREQ("", callbox_sandbox_last_error(NULL));
	EXPECT_EQ(0, callbox_sandbox_last_outcome(NULL)->error);
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN

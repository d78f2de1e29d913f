// SPDX-License-Identifier: GPL-2.0
/*
 * Typed calls through real guests: every type round-trips bit for bit,
 * signatures are checked with clear errors, and the I/O buffers bound
 * arguments and results, up to 1 MiB strings and bytes in buffers
 * configured to hold them. typed_host_test.c has the host functions,
 * hostile_test.c the guests that break the rules.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <callbox/abi.h>
#include <callbox/callbox.h>

#include "sdk_util.h"

/* Call @function with one argument and check that it comes back. */
static void round_trip(struct __test_metadata *_metadata,
		       struct callbox_sandbox *sb, const char *function,
		       struct callbox_wire_value arg)
{
	struct callbox_wire_value r = { 0 };

	ASSERT_EQ(0, callbox_call(sb, function, &arg, 1, &r)) {
		TH_LOG("%s: %s", function, callbox_sandbox_last_error(sb));
	}
	ASSERT_EQ(arg.type, r.type);
	switch (arg.type) {
	case CALLBOX_WIRE_STRING:
	case CALLBOX_WIRE_BYTES:
		ASSERT_EQ(arg.len, r.len);
		EXPECT_EQ(0, memcmp(arg.data, r.data, arg.len));
		/* A result is a copy, and a string one is a C string too. */
		EXPECT_NE(arg.data, r.data);
		EXPECT_EQ(0, r.data[r.len]);
		break;
	case CALLBOX_WIRE_BOOL:
		EXPECT_EQ(arg.b, r.b);
		break;
	default:
		/* Every other type fits in u64; compare the bits. */
		EXPECT_EQ(arg.u64, r.u64) {
			TH_LOG("%s: sent %#llx, got %#llx", function,
			       (unsigned long long)arg.u64,
			       (unsigned long long)r.u64);
		}
	}
	callbox_value_free(&r);
}

FIXTURE(echo) {
	struct callbox_sandbox *sb;
};

FIXTURE_SETUP(echo)
{
	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	self->sb = load(NULL, "echo");
}

FIXTURE_TEARDOWN(echo)
{
	callbox_sandbox_free(self->sb);
}

TEST_F(echo, every_type_round_trips)
{
	static const int32_t i32s[] = { 0, 1, -1, INT32_MIN, INT32_MAX };
	static const uint32_t u32s[] = { 0, 1, UINT32_MAX, 0x80000000u };
	static const int64_t i64s[] = { 0, -1, INT64_MIN, INT64_MAX };
	static const uint64_t u64s[] = { 0, UINT64_MAX, 1ull << 63 };
	/* Quiet and signalling NaNs with payloads, -0, infinities, denormals. */
	static const uint32_t f32s[] = { 0x7fc00001, 0xffa00005, 0x80000000,
					 0x7f800000, 0xff800000, 0x00000001,
					 0x3fc00000 };
	static const uint64_t f64s[] = { 0x7ff8deadbeef0042ull,
					 0xfff0000000000001ull,
					 0x8000000000000000ull,
					 0x7ff0000000000000ull, 1, 0x3ff8000000000000ull };
	static const uint8_t bytes[] = { 0, 0xff, 0, 1, 0x80, 0 };
	struct callbox_wire_value z = { 0 };
	size_t i;

	for (i = 0; i < sizeof(i32s) / sizeof(i32s[0]); i++)
		round_trip(_metadata, self->sb, "echo_i32", CALLBOX_I32(i32s[i]));
	for (i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++)
		round_trip(_metadata, self->sb, "echo_u32", CALLBOX_U32(u32s[i]));
	for (i = 0; i < sizeof(i64s) / sizeof(i64s[0]); i++)
		round_trip(_metadata, self->sb, "echo_i64", CALLBOX_I64(i64s[i]));
	for (i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++)
		round_trip(_metadata, self->sb, "echo_u64", CALLBOX_U64(u64s[i]));
	for (i = 0; i < sizeof(f32s) / sizeof(f32s[0]); i++) {
		z = CALLBOX_F32_BITS(f32s[i]);
		round_trip(_metadata, self->sb, "echo_f32", z);
	}
	for (i = 0; i < sizeof(f64s) / sizeof(f64s[0]); i++)
		round_trip(_metadata, self->sb, "echo_f64",
			   CALLBOX_F64_BITS(f64s[i]));
	round_trip(_metadata, self->sb, "echo_bool", CALLBOX_BOOL(true));
	round_trip(_metadata, self->sb, "echo_bool", CALLBOX_BOOL(false));
	round_trip(_metadata, self->sb, "echo_string", CALLBOX_STRING(""));
	round_trip(_metadata, self->sb, "echo_string",
		   CALLBOX_STRING("hello, \xc3\xa9t\xc3\xa9 \xe2\x9c\x93"));
	round_trip(_metadata, self->sb, "echo_bytes", CALLBOX_BYTES(NULL, 0));
	round_trip(_metadata, self->sb, "echo_bytes",
		   CALLBOX_BYTES(bytes, sizeof(bytes)));
}

TEST_F(echo, arithmetic_on_every_type)
{
	struct callbox_wire_value r;

#define CALL2(fn, a, b)                                                  \
	({                                                               \
		struct callbox_wire_value __a[] = { a, b };              \
		ASSERT_EQ(0, callbox_call(self->sb, fn, __a, 2, &r)) {   \
			TH_LOG("%s", callbox_sandbox_last_error(self->sb));      \
		}                                                        \
	})
	CALL2("add_i32", CALLBOX_I32(INT32_MAX), CALLBOX_I32(1));
	EXPECT_EQ(INT32_MIN, r.i32);
	CALL2("add_u32", CALLBOX_U32(UINT32_MAX), CALLBOX_U32(2));
	EXPECT_EQ(1u, r.u32);
	CALL2("add_i64", CALLBOX_I64(INT64_MIN), CALLBOX_I64(-1));
	EXPECT_EQ(INT64_MAX, r.i64);
	CALL2("add_u64", CALLBOX_U64(1ull << 63), CALLBOX_U64(5));
	EXPECT_EQ((1ull << 63) + 5, r.u64);
	CALL2("add_f32", CALLBOX_F32(1.5f), CALLBOX_F32(0.25f));
	EXPECT_EQ(1.75f, r.f32);
	CALL2("add_f64", CALLBOX_F64(1e300), CALLBOX_F64(1e300));
	EXPECT_EQ(1e300 + 1e300, r.f64);
	CALL2("add_f64", CALLBOX_F64(NAN), CALLBOX_F64(1.0));
	EXPECT_TRUE(isnan(r.f64));
	CALL2("and_bool", CALLBOX_BOOL(true), CALLBOX_BOOL(false));
	EXPECT_FALSE(r.b);
	CALL2("concat", CALLBOX_STRING("call"), CALLBOX_STRING("box"));
	EXPECT_STREQ("callbox", (const char *)r.data);
	callbox_value_free(&r);
#undef CALL2

	/* void: no arguments, no result, but a VOID value says so. */
	ASSERT_EQ(0, callbox_call(self->sb, "nothing", NULL, 0, &r));
	EXPECT_EQ(CALLBOX_WIRE_VOID, r.type);
}

TEST_F(echo, thirty_two_parameters_of_mixed_types)
{
	struct callbox_wire_value args[CALLBOX_MAX_PARAMS + 1], r;
	static const uint8_t blob[3] = { 1, 2, 3 };
	int64_t want = 0;
	int i;

	for (i = 0; i < CALLBOX_MAX_PARAMS + 1; i++) {
		args[i] = CALLBOX_I64(i == 0 ? INT64_MIN : (int64_t)i * 1000003);
		if (i < CALLBOX_MAX_PARAMS)
			want = (int64_t)((uint64_t)want + (uint64_t)args[i].i64);
	}
	ASSERT_EQ(0, callbox_call(self->sb, "sum32", args, 32, &r)) {
		TH_LOG("%s", callbox_sandbox_last_error(self->sb));
	}
	EXPECT_EQ(want, r.i64);

	/* 33 is one too many for any function: refused before the call. */
	EXPECT_EQ(-EINVAL, callbox_call(self->sb, "sum32", args, 33, &r));
	EXPECT_ERROR(self->sb, "33 arguments given, but the function takes 32");

	{
		struct callbox_wire_value all[] = {
			CALLBOX_I32(-5), CALLBOX_U32(7), CALLBOX_I64(INT64_MIN),
			CALLBOX_U64(UINT64_MAX), CALLBOX_F32_BITS(0x7fc00001),
			CALLBOX_F64_BITS(0x8000000000000000ull),
			CALLBOX_BOOL(true), CALLBOX_STRING("s"),
			CALLBOX_BYTES(blob, sizeof(blob)),
		};

		ASSERT_EQ(0, callbox_call(self->sb, "describe", all, 9, &r)) {
			TH_LOG("%s", callbox_sandbox_last_error(self->sb));
		}
		EXPECT_STREQ("i32 -5, u32 7, i64 -9223372036854775808, u64 18446744073709551615, f32 0x7fc00001, f64 0x8000000000000000, bool true, string 's' (1), bytes 3",
			     (const char *)r.data);
		callbox_value_free(&r);
	}
}

TEST_F(echo, signature_mismatches_are_named)
{
	struct callbox_wire_value two[] = { CALLBOX_I32(1), CALLBOX_I32(2) };
	struct callbox_wire_value r;
	unsigned int i, found = 0;
	char sig[128];

	EXPECT_EQ(-EINVAL, callbox_call(self->sb, "echo_i32",
					&CALLBOX_I64(1), 1, &r));
	EXPECT_ERROR(self->sb, "echo_i32: argument 1 is i64, but the function takes i32 there (i32 echo_i32(i32))");

	EXPECT_EQ(-EINVAL, callbox_call(self->sb, "echo_i32", two, 2, &r));
	EXPECT_ERROR(self->sb, "echo_i32: 2 arguments given, but the function takes 1");

	EXPECT_EQ(-EINVAL, callbox_call(self->sb, "nothing", two, 1, &r));
	EXPECT_ERROR(self->sb, "1 argument given, but the function takes 0 (void nothing())");

	EXPECT_EQ(-ENOENT, callbox_call(self->sb, "echo_i128", two, 1, &r));
	EXPECT_ERROR(self->sb, "no function named 'echo_i128'");

	/* callbox_call_int() takes only functions of i64. */
	EXPECT_EQ(-EINVAL, callbox_call_int(self->sb, "echo_i32", NULL, 0, NULL));
	EXPECT_ERROR(self->sb, "i32 echo_i32(i32)");

	/* A value that is no value of its type: a NUL inside a string. */
	EXPECT_EQ(-EINVAL, callbox_call(self->sb, "echo_string",
					&CALLBOX_STRING_N("a\0b", 3), 1, &r));
	EXPECT_ERROR(self->sb, "argument 1 is not a valid string");

	/* The guest's runtime checks what its function returns. */
	EXPECT_EQ(-EPROTO, callbox_call(self->sb, "lies_about_type", NULL, 0, &r));
	EXPECT_ERROR(self->sb, "lies_about_type: the function returned string, but it is declared to return i64");

	/* The exports as the host sees them, in no particular order. */
	for (i = 0; !callbox_sandbox_export(self->sb, i, sig, sizeof(sig)); i++)
		if (!strcmp(sig, "i32 echo_i32(i32)"))
			found++;
	EXPECT_EQ(1, found);
	EXPECT_EQ(23u, i);
	EXPECT_EQ(-ENOENT, callbox_sandbox_export(self->sb, 1000, sig,
						  sizeof(sig)));
	EXPECT_STREQ("", sig);

	/* None of that hurt: the sandbox still calls. */
	round_trip(_metadata, self->sb, "echo_i64", CALLBOX_I64(42));
}

TEST_F(echo, buffers_bound_arguments_and_results)
{
	size_t big = CALLBOX_DEFAULT_IO_BUFFER + 1;
	char *s = malloc(big + 1);
	struct callbox_wire_value arg, r;

	ASSERT_NE(NULL, s);
	memset(s, 'q', big);
	s[big] = '\0';

	arg = CALLBOX_STRING(s);
	EXPECT_EQ(-E2BIG, callbox_call(self->sb, "echo_string", &arg, 1, &r));
	EXPECT_ERROR(self->sb, "echo_string: the arguments do not fit the 16384-byte buffer");

	/* The guest cannot fit a result that large either. */
	EXPECT_EQ(-E2BIG, callbox_call(self->sb, "make_string",
				       &CALLBOX_U32(big), 1, &r));
	EXPECT_ERROR(self->sb, "make_string: the result does not fit the 16384-byte output buffer");

	/* The largest string result there is: buffer - header - tag, len, NUL. */
	ASSERT_EQ(0, callbox_call(self->sb, "make_string",
				  &CALLBOX_U32(CALLBOX_DEFAULT_IO_BUFFER - 12 - 6),
				  1, &r)) {
		TH_LOG("%s", callbox_sandbox_last_error(self->sb));
	}
	EXPECT_EQ(CALLBOX_DEFAULT_IO_BUFFER - 12 - 6, r.len);
	callbox_value_free(&r);
	free(s);
}

/* A guest function that fails says why, and the guest stays healthy. */
TEST_F(echo, a_failing_function_leaves_the_guest_healthy)
{
	struct callbox_wire_value r;

	EXPECT_EQ(-EREMOTEIO, callbox_call(self->sb, "make_string",
					   &CALLBOX_U32(UINT32_MAX), 1, &r));
	EXPECT_ERROR(self->sb, "make_string: no memory for 4294967295 bytes");
	EXPECT_EQ(0, callbox_sandbox_last_outcome(self->sb)->call.flags &
		     CALLBOX_CALL_POISONED);
	round_trip(_metadata, self->sb, "echo_u32", CALLBOX_U32(7));
}

TEST_F(echo, async_typed_calls)
{
	struct callbox_wire_value r;
	uint64_t id[2];
	struct callbox_wire_value arg = CALLBOX_STRING("queued");

	ASSERT_EQ(0, callbox_call_submit(self->sb, "echo_string", &arg, 1, 0,
					 &id[0]));
	ASSERT_EQ(0, callbox_call_submit(self->sb, "echo_f64",
					 &CALLBOX_F64(-0.5), 1, 0, &id[1]));
	/* Checked at submit, like a sync call. */
	EXPECT_EQ(-EINVAL, callbox_call_submit(self->sb, "echo_f64", &arg, 1,
					       0, &id[1]));
	/* A wait that gives up before the call ends: -ETIME, not consumed. */
	EXPECT_EQ(-ETIME, callbox_call_wait(self->sb, id[1],
					    callbox_deadline_after(1000000),
					    &r, NULL));
	ASSERT_EQ(0, callbox_call_run(self->sb, 0));
	ASSERT_EQ(0, callbox_call_run(self->sb, 0));
	ASSERT_EQ(0, callbox_call_wait(self->sb, id[1], 0, &r, NULL));
	EXPECT_EQ(-0.5, r.f64);
	ASSERT_EQ(0, callbox_call_wait(self->sb, id[0], 0, &r, NULL));
	EXPECT_STREQ("queued", (const char *)r.data);
	callbox_value_free(&r);
}

/*
 * Several threads on one sandbox passing strings, first as sync callers,
 * then as async submitters with a runner (a sync call is refused, -EBUSY,
 * while async calls are pending, so the two do not mix). Each caller must
 * get back its own string, never another thread's.
 */
struct typed_worker {
	struct callbox_sandbox *sb;
	int index;
	bool async;
	int calls;
	int ok;
	int wrong;
	int failed;
	char error[256];
};

static void *typed_worker(void *p)
{
	struct typed_worker *w = p;
	struct callbox_wire_value arg, r;
	char text[64];
	uint64_t id;
	int i, ret;

	for (i = 0; i < w->calls; i++) {
		snprintf(text, sizeof(text), "thread %d call %d", w->index, i);
		arg = CALLBOX_STRING(text);
		if (w->async) {
			ret = callbox_call_submit(w->sb, "echo_string", &arg, 1,
						  0, &id);
			if (!ret)
				ret = callbox_call_wait(w->sb, id, 0, &r, NULL);
		} else {
			ret = callbox_call(w->sb, "echo_string", &arg, 1, &r);
		}
		if (ret) {
			if (!w->failed++)
				snprintf(w->error, sizeof(w->error), "%d: %s",
					 ret, callbox_sandbox_last_error(w->sb));
			continue;
		}
		if (r.type != CALLBOX_WIRE_STRING ||
		    strcmp((const char *)r.data, text))
			w->wrong++;
		else
			w->ok++;
		callbox_value_free(&r);
	}
	return NULL;
}

/* Run three workers, sync or async, and check what they got. */
static void typed_workers(struct __test_metadata *_metadata,
			  struct callbox_sandbox *sb, bool async)
{
	struct typed_worker w[3];
	pthread_t t[3];
	int i;

	for (i = 0; i < 3; i++) {
		w[i] = (struct typed_worker){ .sb = sb, .index = i,
					      .async = async, .calls = 300 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, typed_worker, &w[i]));
	}
	for (i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, w[i].wrong);
		EXPECT_EQ(0, w[i].failed) {
			TH_LOG("%s thread %d: %s", async ? "async" : "sync",
			       i, w[i].error);
		}
		EXPECT_EQ(300, w[i].ok);
	}
}

TEST_F_TIMEOUT(echo, threads_get_their_own_results, 300)
{
	pthread_t runner;

	typed_workers(_metadata, self->sb, false);

	ASSERT_EQ(0, pthread_create(&runner, NULL, run_until_stopped,
				    self->sb));
	typed_workers(_metadata, self->sb, true);
	callbox_call_run_stop(self->sb);
	pthread_join(runner, NULL);
}

/* 1 MiB strings and bytes, with buffers configured to hold them. */
TEST(one_mib_strings_and_bytes)
{
	const size_t mib = 1 << 20;
	struct callbox_sandbox *sb;
	struct callbox_config cfg;
	struct callbox_wire_value r;
	uint8_t *b = malloc(mib);
	char *s = malloc(mib + 1);
	size_t i;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, s);
	callbox_config_init(&cfg);
	cfg.mem_size = 16 << 20;
	cfg.max_calls = 1;
	cfg.input_size = 2 << 20;
	cfg.output_size = 2 << 20;
	sb = load(&cfg, "echo");

	for (i = 0; i < mib; i++) {
		s[i] = 'a' + i % 26;
		b[i] = (uint8_t)(i * 7 + (i >> 8));	/* zeros included */
	}
	s[mib] = '\0';
	round_trip(_metadata, sb, "echo_string", CALLBOX_STRING(s));
	round_trip(_metadata, sb, "echo_bytes", CALLBOX_BYTES(b, mib));
	round_trip(_metadata, sb, "echo_string", CALLBOX_STRING(""));

	/* And the guest works on them: the sum of every byte. */
	ASSERT_EQ(0, callbox_call(sb, "bytes_sum", &CALLBOX_BYTES(b, mib), 1,
				  &r));
	{
		uint64_t sum = 0;

		for (i = 0; i < mib; i++)
			sum += b[i];
		EXPECT_EQ(sum, r.u64);
	}
	callbox_sandbox_free(sb);

	/* The strings guest reverses one, on its heap. */
	sb = load(&cfg, "strings");
	r = CALLBOX_STRING(s);
	ASSERT_EQ(0, callbox_call(sb, "reverse", &r, 1, &r)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	ASSERT_EQ(mib, r.len);
	for (i = 0; i < mib; i++)
		if (r.data[i] != (uint8_t)s[mib - 1 - i])
			break;
	EXPECT_EQ(mib, i);
	callbox_value_free(&r);
	callbox_sandbox_free(sb);
	free(s);
	free(b);
}

TEST(config_of_buffers_is_checked)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");

#define EXPECT_LOAD_FAILS(field, value, needle)                          \
	do {                                                             \
		callbox_config_init(&cfg);                               \
		cfg.field = value;                                       \
		sb = sandbox_new(&cfg);                                  \
		load_into_err(EINVAL, sb, "echo");                       \
		EXPECT_ERROR(sb, needle);                                \
		callbox_sandbox_free(sb);                                \
	} while (0)
	EXPECT_LOAD_FAILS(input_size, 5000, "input buffer size 5000 bytes is not a multiple of 4 KiB");
	EXPECT_LOAD_FAILS(output_size, 512ull << 20, "output buffer size");
	/* The kernel's 64th call is kept for the init call of a reset. */
	EXPECT_LOAD_FAILS(max_calls, 65, "max_calls 65 is not 1 to 64");
	EXPECT_LOAD_FAILS(input_size, 4ull << 20, "leave no room for the image");
#undef EXPECT_LOAD_FAILS

	/* 0 in the fields newer than the config struct means the default. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.mem_size = CALLBOX_DEFAULT_MEM_SIZE;
	cfg.stack_size = CALLBOX_DEFAULT_STACK_SIZE;
	sb = sandbox_new(&cfg);
	EXPECT_EQ(0, _load_into(sb, "echo")) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN

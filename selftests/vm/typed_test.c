// SPDX-License-Identifier: GPL-2.0
/*
 * Typed calls through real guests: every type round-trips bit for bit,
 * signatures are checked with clear errors, typed host functions (failing
 * ones too) work, and malformed messages from a hostile guest are errors
 * that leave the host healthy.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <callbox/abi.h>
#include <callbox/callbox.h>

#include "callbox_util.h"

#define ECHO GUEST_DIR "/echo.elf"
#define STRINGS GUEST_DIR "/strings.elf"
#define HOST GUEST_DIR "/host.elf"
#define HOSTILE GUEST_DIR "/hostile.elf"

static struct callbox_sandbox *load(struct __test_metadata *_metadata,
				    const char *guest,
				    const struct callbox_config *cfg)
{
	struct callbox_sandbox *sb = callbox_sandbox_new(cfg);
	int ret;

	if (!sb)
		return NULL;
	ret = callbox_sandbox_load(sb, guest);
	if (ret) {
		TH_LOG("loading %s: %s", guest, callbox_last_error(sb));
		callbox_sandbox_free(sb);
		return NULL;
	}
	return sb;
}

/* Does the last error mention @needle? Logs it either way on failure. */
#define EXPECT_ERROR(sb, needle)                                         \
	EXPECT_NE(NULL, strstr(callbox_last_error(sb), needle)) {        \
		TH_LOG("error \"%s\" lacks \"%s\"",                      \
		       callbox_last_error(sb), needle);                  \
	}

/* Call @function with one argument and check that it comes back. */
static void round_trip(struct __test_metadata *_metadata,
		       struct callbox_sandbox *sb, const char *function,
		       struct callbox_wire_value arg)
{
	struct callbox_wire_value r = { 0 };

	ASSERT_EQ(0, callbox_call(sb, function, &arg, 1, &r)) {
		TH_LOG("%s: %s", function, callbox_last_error(sb));
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
	self->sb = load(_metadata, ECHO, NULL);
	ASSERT_NE(NULL, self->sb);
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
			TH_LOG("%s", callbox_last_error(self->sb));      \
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
		TH_LOG("%s", callbox_last_error(self->sb));
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
			TH_LOG("%s", callbox_last_error(self->sb));
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
		TH_LOG("%s", callbox_last_error(self->sb));
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
	EXPECT_EQ(0, callbox_last_call(self->sb)->flags &
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
	ASSERT_EQ(0, callbox_run_next(self->sb, 0));
	ASSERT_EQ(0, callbox_run_next(self->sb, 0));
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
					 ret, callbox_last_error(w->sb));
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

static void *typed_runner(void *p)
{
	struct callbox_sandbox *sb = p;

	while (callbox_run_next(sb, 0) != -ESHUTDOWN)
		;
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

	ASSERT_EQ(0, pthread_create(&runner, NULL, typed_runner, self->sb));
	typed_workers(_metadata, self->sb, true);
	callbox_run_stop(self->sb);
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
	sb = load(_metadata, ECHO, &cfg);
	ASSERT_NE(NULL, sb);

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
	sb = load(_metadata, STRINGS, &cfg);
	ASSERT_NE(NULL, sb);
	r = CALLBOX_STRING(s);
	ASSERT_EQ(0, callbox_call(sb, "reverse", &r, 1, &r)) {
		TH_LOG("%s", callbox_last_error(sb));
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
		sb = callbox_sandbox_new(&cfg);                          \
		ASSERT_NE(NULL, sb);                                     \
		EXPECT_EQ(-EINVAL, callbox_sandbox_load(sb, ECHO));      \
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
	sb = callbox_sandbox_new(&cfg);
	ASSERT_NE(NULL, sb);
	EXPECT_EQ(0, callbox_sandbox_load(sb, ECHO)) {
		TH_LOG("%s", callbox_last_error(sb));
	}
	callbox_sandbox_free(sb);
}

/* ---- typed host functions ---- */

struct host_counts {
	int transform;
};

/* A host function; it need not use every parameter. */
#define HOST_FN(name)							\
	static int name(struct callbox_sandbox *sb __attribute__((unused)),	\
			const struct callbox_wire_value *args			\
				__attribute__((unused)),			\
			struct callbox_wire_writer *result			\
				__attribute__((unused)),			\
			void *opaque __attribute__((unused)))

HOST_FN(transform)
{
	struct host_counts *n = opaque;

	n->transform++;
	return callbox_wire_put_i64(result, 2 * args[0].i64);
}

HOST_FN(greeting)
{
	char text[256];

	snprintf(text, sizeof(text), "Hello, %s!", (const char *)args[0].data);
	return callbox_wire_put_string(result, text);
}

HOST_FN(fails)
{
	return callbox_host_fn_fail(sb, -EDOM, "no %lld for you",
				    (long long)args[0].i64);
}

HOST_FN(fails_silently)
{
	return 1234;
}

/* Declared to return i64, puts a string. */
HOST_FN(lies)
{
	return callbox_wire_put_string(result, "oops");
}

/* A result larger than the guest's input buffer. */
HOST_FN(too_big)
{
	static char big[CALLBOX_DEFAULT_IO_BUFFER + 1];

	memset(big, 'b', sizeof(big) - 1);
	/* The writer's error is the library's to report, not ours. */
	callbox_wire_put_string(result, big);
	return 0;
}

HOST_FN(nothing)
{
	return 0;
}

HOST_FN(takes_string)
{
	return callbox_wire_put_i64(result, args[0].len);
}

static void add_host_fns(struct __test_metadata *_metadata,
			 struct callbox_sandbox *sb, struct host_counts *n)
{
	static const struct {
		const char *name, *signature;
		callbox_host_fn fn;
	} fns[] = {
		{ "transform", "i64(i64)", transform },
		{ "greeting", "string(string)", greeting },
		{ "fails", "i64(i64)", fails },
		{ "fails_silently", "i64(i64)", fails_silently },
		{ "lies", "i64(i64)", lies },
		{ "too_big", "string(i64)", too_big },
		{ "nothing", "void(i64)", nothing },
		{ "takes_string", "i64(string)", takes_string },
	};
	size_t i;

	/* Braces: ASSERT_EQ() { TH_LOG() } is two statements. */
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, fns[i].name,
							 fns[i].signature,
							 fns[i].fn, n)) {
			TH_LOG("%s", callbox_last_error(sb));
		}
	}
}

FIXTURE(host) {
	struct callbox_sandbox *sb;
	struct host_counts n;
};

/* A sandbox with every host function above, and @guest loaded. */
static struct callbox_sandbox *load_with_host_fns(struct __test_metadata *_metadata,
						  const char *guest,
						  struct host_counts *n)
{
	struct callbox_sandbox *sb = callbox_sandbox_new(NULL);

	memset(n, 0, sizeof(*n));
	ASSERT_NE(NULL, sb);
	add_host_fns(_metadata, sb, n);
	ASSERT_EQ(0, callbox_sandbox_load(sb, guest)) {
		TH_LOG("%s", callbox_last_error(sb));
	}
	return sb;
}

FIXTURE_SETUP(host)
{
	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	self->sb = load_with_host_fns(_metadata, HOST, &self->n);
}

FIXTURE_TEARDOWN(host)
{
	callbox_sandbox_free(self->sb);
}

/* try_host(name, x): what the guest saw when it called name(x). */
static void expect_try_host(struct __test_metadata *_metadata,
			    struct callbox_sandbox *sb, const char *name,
			    int64_t x, const char *want)
{
	struct callbox_wire_value args[] = { CALLBOX_STRING(name),
					     CALLBOX_I64(x) }, r;

	ASSERT_EQ(0, callbox_call(sb, "try_host", args, 2, &r)) {
		TH_LOG("%s", callbox_last_error(sb));
	}
	EXPECT_STREQ(want, (const char *)r.data);
	callbox_value_free(&r);
}

TEST_F(host, typed_host_functions)
{
	struct callbox_wire_value r;
	char want[256];

	expect_try_host(_metadata, self->sb, "transform", 21, "ok i64 42");
	expect_try_host(_metadata, self->sb, "nothing", 1, "ok void");

	/* Strings both ways, two host calls in one guest call. */
	r = CALLBOX_STRING("Ada");
	ASSERT_EQ(0, callbox_call(self->sb, "greet_twice", &r, 1, &r));
	EXPECT_STREQ("Hello, Hello, Ada!!", (const char *)r.data);
	callbox_value_free(&r);

	/* Many host calls in one guest call. */
	self->n.transform = 0;
	ASSERT_EQ(0, callbox_call(self->sb, "many_host_calls",
				  &CALLBOX_I64(500), 1, &r));
	EXPECT_EQ(2 * (499 * 500 / 2), r.i64);
	EXPECT_EQ(500, self->n.transform);

	/* Failures the guest sees, with the code and the message. */
	expect_try_host(_metadata, self->sb, "fails", 3,
			"error -33: no 3 for you");
	expect_try_host(_metadata, self->sb, "fails_silently", 3,
			"error 1234: the host function failed");
	snprintf(want, sizeof(want), "error %d: no host function named 'nope'",
		 -ENOENT);
	expect_try_host(_metadata, self->sb, "nope", 3, want);
	snprintf(want, sizeof(want),
		 "error %d: takes_string: argument 1 is i64, but the function takes string there (i64 takes_string(string))",
		 -EINVAL);
	expect_try_host(_metadata, self->sb, "takes_string", 3, want);
	snprintf(want, sizeof(want),
		 "error %d: lies: the host function returned 1 values, not one i64",
		 -EPROTO);
	expect_try_host(_metadata, self->sb, "lies", 3, want);
	snprintf(want, sizeof(want),
		 "error %d: too_big: the result does not fit the guest's 16384-byte input buffer",
		 -E2BIG);
	expect_try_host(_metadata, self->sb, "too_big", 3, want);

	/* The sandbox is healthy after all of that. */
	expect_try_host(_metadata, self->sb, "transform", -4, "ok i64 -8");
}

TEST(host_fn_registration_is_checked)
{
	struct callbox_sandbox *sb = callbox_sandbox_new(NULL);
	char name[CALLBOX_FUNCTION_NAME_MAX + 1];

	ASSERT_NE(NULL, sb);
	EXPECT_EQ(0, callbox_sandbox_add_host_fn(sb, "f", " void ( ) ",
						 nothing, NULL));
	EXPECT_EQ(-EEXIST, callbox_sandbox_add_host_fn(sb, "f", "void()",
						       nothing, NULL));
	EXPECT_ERROR(sb, "host function f is registered already");
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "g", "i64(int)",
						       nothing, NULL));
	EXPECT_ERROR(sb, "host function g: signature \"i64(int)\": parameter 1: 'int' is not one of");
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "g", "i64(void)",
						       nothing, NULL));
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "g", "i64(i64",
						       nothing, NULL));
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "a b", "void()",
						       nothing, NULL));
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "", "void()",
						       nothing, NULL));
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, name, "void()",
						       nothing, NULL));
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "g", "void()",
						       NULL, NULL));
	callbox_sandbox_free(sb);
}

/* The set of host functions is fixed once the guest runs. */
TEST_F(host, no_host_fn_after_the_load)
{
	EXPECT_EQ(-EBUSY, callbox_sandbox_add_host_fn(self->sb, "late",
						      "void()", nothing, NULL));
	EXPECT_ERROR(self->sb, "before callbox_sandbox_load()");
}

/* ---- a hostile guest ---- */

FIXTURE(hostile) {
	struct callbox_sandbox *sb;
	struct host_counts n;
};

FIXTURE_SETUP(hostile)
{
	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	self->sb = load_with_host_fns(_metadata, HOSTILE, &self->n);
}

FIXTURE_TEARDOWN(hostile)
{
	callbox_sandbox_free(self->sb);
}

/* The cases of selftests/guests/hostile.c's reply(), in its order. */
static const struct {
	int err;
	const char *needle;
} hostile_replies[] = {
	{ 0, NULL },					/* fine */
	{ -EBADMSG, "message length past the end of the buffer (value 16385" },
	{ -EBADMSG, "string length runs past the message end" },
	{ -EBADMSG, "string not NUL-terminated" },
	{ -EBADMSG, "unknown type tag (value 119" },
	{ -EBADMSG, "the guest returned i64, but the function is declared to return string" },
	{ -EBADMSG, "bad magic" },
	{ -EBADMSG, "holds 2 values, not one" },
	{ -EBADMSG, "holds no value" },
	{ -EBADMSG, "trailing bytes after the last value" },
	{ -EBADMSG, "NUL byte inside a string" },
	{ -EBADMSG, "string length runs past the message end (value 4294967295" },
	/* The first string's length swallows the second value's bytes. */
	{ -EBADMSG, "NUL byte inside a string (value 14" },
	{ -EBADMSG, "message length shorter than its header (value 5" },
	{ -EINVAL, "reply: the guest refused the call (status 2): (the guest left no readable message)" },
};

TEST_F(hostile, malformed_replies_are_errors)
{
	struct callbox_wire_value r;
	unsigned int c, round;

	/* Twice, so that every case also follows every other one. */
	for (round = 0; round < 2; round++) {
		for (c = 0; c < sizeof(hostile_replies) / sizeof(hostile_replies[0]); c++) {
			int ret = callbox_call(self->sb, "reply",
					       &CALLBOX_U32(c), 1, &r);

			EXPECT_EQ(hostile_replies[c].err, ret) {
				TH_LOG("case %u: %s", c,
				       callbox_last_error(self->sb));
			}
			if (!ret) {
				EXPECT_STREQ("fine", (const char *)r.data);
				callbox_value_free(&r);
			} else {
				EXPECT_ERROR(self->sb, hostile_replies[c].needle);
				EXPECT_ERROR(self->sb, "reply: ");
			}
		}
	}
}

TEST_F(hostile, malformed_host_calls_are_answered)
{
	static const struct {
		int err;
		const char *needle;
	} cases[] = {
		{ -EINVAL, "host function name not NUL-terminated" },
		{ -EBADMSG, "transform: malformed arguments: bad magic" },
		{ -EBADMSG, "transform: malformed arguments: bytes length runs past the message end" },
		{ -ENOSYS, "unknown host call number 0x1234" },
		{ -ENOENT, "no host function named 'no_such_fn'" },
	};
	struct callbox_wire_value r;
	char want[32];
	unsigned int c;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		ASSERT_EQ(0, callbox_call(self->sb, "raw_host_call",
					  &CALLBOX_U32(c), 1, &r)) {
			TH_LOG("case %u: %s", c, callbox_last_error(self->sb));
		}
		snprintf(want, sizeof(want), "error %d: ", cases[c].err);
		EXPECT_EQ(0, strncmp(want, (const char *)r.data, strlen(want))) {
			TH_LOG("case %u: %s", c, r.data);
		}
		EXPECT_NE(NULL, strstr((const char *)r.data, cases[c].needle)) {
			TH_LOG("case %u: %s", c, r.data);
		}
		callbox_value_free(&r);
	}
	/* The host function never ran on any of those. */
	EXPECT_EQ(0, self->n.transform);
	ASSERT_EQ(0, callbox_call(self->sb, "ping", NULL, 0, &r));
	EXPECT_STREQ("pong", (const char *)r.data);
	callbox_value_free(&r);
}

/* The guest checks each call against its own table, whatever the host did. */
TEST_F(hostile, guest_checks_arguments_too)
{
	struct callbox_wire_value arg = CALLBOX_I64(5), r;

	ASSERT_EQ(0, callbox_call(self->sb, "target", &arg, 1, &r));
	EXPECT_STREQ("target ran", (const char *)r.data);
	callbox_value_free(&r);

	/* Now the guest's table says target takes a string. */
	ASSERT_EQ(0, callbox_call(self->sb, "mutate", &CALLBOX_U32(1), 1, &r));
	EXPECT_EQ(-EINVAL, callbox_call(self->sb, "target", &arg, 1, &r));
	EXPECT_ERROR(self->sb, "target: the guest refused the call (status 2): argument 1 is i64, but the function takes string there");

	/* ... and that it takes nothing. */
	ASSERT_EQ(0, callbox_call(self->sb, "mutate", &CALLBOX_U32(2), 1, &r));
	EXPECT_EQ(-EINVAL, callbox_call(self->sb, "target", &arg, 1, &r));
	EXPECT_ERROR(self->sb, "(status 2): 1 arguments given, but the function takes 0");
}

/*
 * A reset reloads the guest's memory but keeps the I/O buffers: the
 * arguments of a queued call, and the result of an ended call nobody has
 * collected yet, are both still there after it.
 */
TEST_F(hostile, reset_keeps_queued_arguments_and_uncollected_results)
{
	struct callbox_wire_value before = CALLBOX_STRING("ran before the reset");
	struct callbox_wire_value after = CALLBOX_STRING("queued across the reset");
	uint64_t id_before, id_spin, id_after;
	struct callbox_wire_value r;

	ASSERT_EQ(0, callbox_call_submit(self->sb, "echo_text", &before, 1, 0,
					 &id_before));
	ASSERT_EQ(0, callbox_run_next(self->sb, 0));
	ASSERT_EQ(0, callbox_call_submit(self->sb, "spin", NULL, 0,
					 callbox_deadline_after(200000000),
					 &id_spin));
	ASSERT_EQ(0, callbox_call_submit(self->sb, "echo_text", &after, 1, 0,
					 &id_after));

	/* The deadline stops the spin mid-call: the sandbox is poisoned. */
	ASSERT_EQ(0, callbox_run_next(self->sb, 0));
	EXPECT_EQ(-ETIMEDOUT, callbox_call_wait(self->sb, id_spin, 0, &r, NULL));
	/* A wait's message names the function too. */
	EXPECT_ERROR(self->sb, "spin: call ");
	EXPECT_EQ(-ENOTRECOVERABLE, callbox_run_next(self->sb, 0));

	ASSERT_EQ(0, callbox_sandbox_reset(self->sb)) {
		TH_LOG("%s", callbox_last_error(self->sb));
	}
	ASSERT_EQ(0, callbox_run_next(self->sb, 0));
	ASSERT_EQ(0, callbox_call_wait(self->sb, id_after, 0, &r, NULL)) {
		TH_LOG("%s", callbox_last_error(self->sb));
	}
	EXPECT_STREQ("queued across the reset", (const char *)r.data);
	callbox_value_free(&r);
	ASSERT_EQ(0, callbox_call_wait(self->sb, id_before, 0, &r, NULL));
	EXPECT_STREQ("ran before the reset", (const char *)r.data);
	callbox_value_free(&r);
}

/*
 * How a call aborted is kept with the call: a reset (which reloads the
 * mailbox) between the abort and the wait must not change what the wait
 * reports.
 */
/* Two runners still enter the calls in the order they were submitted. */
TEST_F_TIMEOUT(hostile, runners_keep_submission_order, 300)
{
	struct callbox_wire_value r;
	pthread_t runner[2];
	uint64_t id[15];
	int round, i;

	ASSERT_EQ(0, pthread_create(&runner[0], NULL, typed_runner, self->sb));
	ASSERT_EQ(0, pthread_create(&runner[1], NULL, typed_runner, self->sb));
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 15; i++)
			ASSERT_EQ(0, callbox_call_submit(self->sb, "ticket",
							 NULL, 0, 0, &id[i]));
		for (i = 0; i < 15; i++) {
			ASSERT_EQ(0, callbox_call_wait(self->sb, id[i], 0, &r,
						       NULL));
			EXPECT_EQ((uint64_t)(round * 15 + i), r.u64) {
				TH_LOG("round %d: call %d entered as number %llu",
				       round, i, (unsigned long long)r.u64);
			}
		}
	}
	callbox_run_stop(self->sb);
	pthread_join(runner[0], NULL);
	pthread_join(runner[1], NULL);
}

TEST(abort_details_survive_a_reset)
{
	struct callbox_sandbox *sb;
	struct callbox_wire_value r;
	uint64_t id;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	sb = load(_metadata, GUEST_DIR "/fault.elf", NULL);
	ASSERT_NE(NULL, sb);
	ASSERT_EQ(0, callbox_call_submit(sb, "null_deref", NULL, 0, 0, &id));
	ASSERT_EQ(0, callbox_run_next(sb, 0));
	ASSERT_EQ(0, callbox_sandbox_reset(sb)) {
		TH_LOG("%s", callbox_last_error(sb));
	}
	EXPECT_EQ(-EIO, callbox_call_wait(sb, id, 0, &r, NULL));
	EXPECT_ERROR(sb, "null_deref: call ");
	EXPECT_ERROR(sb, "aborted by the guest, which reports CPU exception #PF page fault at rip 0x");
	EXPECT_ERROR(sb, ", address 0x0 (error 0x");
	callbox_sandbox_free(sb);
}

TEST(malformed_export_tables_fail_the_load)
{
	static const char *const needles[] = {
		NULL,
		"claims 4294967295 exports, more than the 128 that fit",
		"export 2 is malformed: the name is not NUL-terminated",
		"export 2 is malformed: bad: parameter 1 has type tag 153",
		"export 2 is malformed: bad: 200 parameters, more than 32",
		"export 2 is malformed: the name has byte 0x20 at 1",
		"the guest exports good twice",
		"claims 4097 exports, more than the 4096 that fit",
	};
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	unsigned int v;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	for (v = 1; v < sizeof(needles) / sizeof(needles[0]); v++) {
		callbox_config_init(&cfg);
		cfg.log_level = CALLBOX_LOG_TRACE;	/* hostile.c's switch */
		cfg.heap_size = v * 4096;
		/* The last one needs a buffer larger than 4096 exports. */
		if (v == sizeof(needles) / sizeof(needles[0]) - 1) {
			cfg.output_size = 1 << 20;
			cfg.max_calls = 1;
		}
		sb = callbox_sandbox_new(&cfg);
		ASSERT_NE(NULL, sb);
		EXPECT_EQ(-EPROTO, callbox_sandbox_load(sb, HOSTILE));
		EXPECT_ERROR(sb, needles[v]);
		callbox_sandbox_free(sb);
	}
}

TEST_HARNESS_MAIN

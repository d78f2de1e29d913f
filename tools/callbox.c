// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox: command-line front end of libcallbox.
 *
 *   callbox run [OPTIONS] GUEST FUNCTION [ARG...]
 *   callbox run [OPTIONS] [--list] GUEST
 *
 * Each ARG is typed, TYPE:VALUE (i32:5, f64:nan, str:hello, bytes:@file),
 * or a bare integer, which is an i64 as before typed calls. The CLI parses
 * arguments without looking at the function's signature, so that a value
 * always means what it says; the library then checks the values against
 * the signature the guest published and explains any mismatch. The result
 * is printed according to its type. Without FUNCTION, or with --list, the
 * guest's functions are listed with their signatures.
 *
 * The CLI also registers a few small host functions, those the example
 * guest guest/examples/host.c calls, so that it can be run from here.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callbox/callbox.h>

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: callbox run [OPTIONS] GUEST FUNCTION [ARG...]\n"
		"       callbox run [OPTIONS] [--list] GUEST\n"
		"\n"
		"Load the static ELF guest GUEST into a new KVM micro-VM, call its\n"
		"exported function FUNCTION with the typed arguments ARG and print\n"
		"the result. Without FUNCTION, or with --list, list GUEST's functions\n"
		"and their signatures instead.\n"
		"\n"
		"Arguments, at most %d, are TYPE:VALUE:\n"
		"  i32:-5 u32:7 i64:1 u64:0xff  integers: decimal, 0x hex or 0 octal,\n"
		"                               within the type's range\n"
		"  f32:1.5 f64:-2e10 f64:nan    floats; also inf, -inf and hex (0x1p-3)\n"
		"  bool:true bool:0             true, false, 1 or 0\n"
		"  str:hello string:hello       a string, taken as it is\n"
		"  bytes:@FILE bytes:@-         bytes: the contents of FILE, or of stdin\n"
		"  bytes:hex:00ff10             bytes: in hex, two digits a byte\n"
		"An ARG without TYPE: is an integer taken as i64: 'add 2 40' is\n"
		"'add i64:2 i64:40'. The types must match the function's signature.\n"
		"\n"
		"The result is printed by its type: integers in decimal, floats with\n"
		"every digit needed, bool as true or false, a string as it is, bytes\n"
		"in hex, each followed by a newline; a void result prints nothing.\n"
		"\n"
		"Options:\n"
		"  -m, --mem SIZE   guest memory: a multiple of 2M from 2M to 1G,\n"
		"                   with suffix K, M or G (default 4M)\n"
		"  -s, --stack SIZE guest stack: 16K to 1M in 4K steps (default 256K)\n"
		"  -H, --heap SIZE  most the guest's heap may take (default: all the\n"
		"                   memory between the image and the stack)\n"
		"      --input-size SIZE\n"
		"                   the largest message into the guest (a call's\n"
		"                   arguments, a host function's result): 4K to\n"
		"                   256M in 4K steps (default 16K)\n"
		"      --output-size SIZE\n"
		"                   the largest message out of the guest (a result,\n"
		"                   a host call's arguments), likewise (default 16K)\n"
		"  -t, --timeout S  stop the call after S seconds (decimals allowed);\n"
		"                   the kernel enforces it (default: no limit)\n"
		"  -l, --log-level L  show guest log messages up to L: off, error,\n"
		"                   warn, info, debug or trace (default warn)\n"
		"  -L, --list       list GUEST's functions\n"
		"      --raw        write a string or bytes result as it is, with no\n"
		"                   newline (and bytes not in hex)\n"
		"  -h, --help       show this help\n"
		"\n"
		"Host functions the guest may call (as guest/examples/host.c does):\n"
		"  i64 transform(i64)       returns 2 * x\n"
		"  string greeting(string)  returns \"Hello, NAME!\"\n"
		"  i64 wait()               fails: the CLI has no long-running host\n"
		"                           function\n"
		"\n"
		"Needs /dev/kvm and /dev/callbox (callbox.ko loaded).\n"
		"Exit status: 0 if the call returned, 1 if it failed, 2 on bad usage\n"
		"(a bad ARG included).\n", CALLBOX_MAX_PARAMS);
}

static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		v <<= 10; end++;
		break;
	case 'm': case 'M':
		v <<= 20; end++;
		break;
	case 'g': case 'G':
		v <<= 30; end++;
		break;
	}
	if (*end || v > (1ull << 40))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e6)
		return -EINVAL;
	*ns = (uint64_t)(v * 1e9);
	return 0;
}

static int parse_log_level(const char *s, uint32_t *level)
{
	static const char *const names[] = {
		"off", "error", "warn", "info", "debug", "trace",
	};
	uint32_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*level = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- arguments ---- */

/*
 * The TYPE: prefixes. "str" is there because it is what people type;
 * "string" because it is what the signatures say.
 */
static const struct {
	const char *prefix;
	uint8_t type;
} arg_types[] = {
	{ "i32", CALLBOX_WIRE_I32 },
	{ "u32", CALLBOX_WIRE_U32 },
	{ "i64", CALLBOX_WIRE_I64 },
	{ "u64", CALLBOX_WIRE_U64 },
	{ "f32", CALLBOX_WIRE_F32 },
	{ "f64", CALLBOX_WIRE_F64 },
	{ "bool", CALLBOX_WIRE_BOOL },
	{ "str", CALLBOX_WIRE_STRING },
	{ "string", CALLBOX_WIRE_STRING },
	{ "bytes", CALLBOX_WIRE_BYTES },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What the whole of one ARG was, for messages: long ones are cut short. */
struct arg {
	unsigned int index;	/* from 1 */
	const char *text;
};

static int arg_error(const struct arg *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int arg_error(const struct arg *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "callbox: argument %u ('%.40s%s'): ", a->index,
		a->text, strlen(a->text) > 40 ? "..." : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

/*
 * Split an integer into its sign and magnitude, so that one parser serves
 * the range checks of all four integer types: strtoull() alone would take
 * "-1" as UINT64_MAX, and strtoll() cannot read the top half of u64. A
 * leading space or a second sign is refused, which strto*() would allow.
 */
static int parse_integer(const char *s, bool *negative, uint64_t *magnitude)
{
	const char *p = s;
	char *end;

	*negative = *p == '-';
	if (*p == '-' || *p == '+')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	*magnitude = strtoull(p, &end, 0);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	return 0;
}

static int parse_signed(const struct arg *a, const char *s, uint8_t type,
			int64_t *out)
{
	int64_t min = type == CALLBOX_WIRE_I32 ? INT32_MIN : INT64_MIN;
	int64_t max = type == CALLBOX_WIRE_I32 ? INT32_MAX : INT64_MAX;
	uint64_t magnitude;
	bool negative;
	int ret;

	ret = parse_integer(s, &negative, &magnitude);
	if (ret == -EINVAL)
		return arg_error(a, "'%s' is not an integer (decimal, 0x hex or 0 octal)",
				 s);
	/* -min, computed without overflowing for INT64_MIN. */
	if (!ret && (negative ? magnitude > (uint64_t)-(min + 1) + 1 :
				magnitude > (uint64_t)max))
		ret = -ERANGE;
	if (ret)
		return arg_error(a, "%s is out of range for %s (%" PRId64 " to %" PRId64 ")",
				 s, callbox_wire_type_name(type), min, max);
	/* Two's complement negation of the magnitude, as unsigned. */
	*out = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
	return 0;
}

static int parse_unsigned(const struct arg *a, const char *s, uint8_t type,
			  uint64_t *out)
{
	uint64_t max = type == CALLBOX_WIRE_U32 ? UINT32_MAX : UINT64_MAX;
	uint64_t magnitude;
	bool negative;
	int ret;

	ret = parse_integer(s, &negative, &magnitude);
	if (ret == -EINVAL)
		return arg_error(a, "'%s' is not an integer (decimal, 0x hex or 0 octal)",
				 s);
	if (!ret && ((negative && magnitude) || magnitude > max))
		ret = -ERANGE;
	if (ret)
		return arg_error(a, "%s is out of range for %s (0 to %" PRIu64 ")",
				 s, callbox_wire_type_name(type), max);
	*out = magnitude;
	return 0;
}

/*
 * strtof() for f32 rather than strtod() and a cast: rounding twice could
 * give a different float. A value too large for the type is an error;
 * one too small to represent rounds to the nearest subnormal or zero, as
 * a C compiler does with the same literal.
 */
static int parse_float(const struct arg *a, const char *s, uint8_t type,
		       struct callbox_wire_value *v)
{
	bool overflow;
	char *end;

	if (!*s || *s == ' ' || (*s >= '\t' && *s <= '\r'))
		return arg_error(a, "'%s' is not a number", s);
	errno = 0;
	if (type == CALLBOX_WIRE_F32) {
		*v = CALLBOX_F32(strtof(s, &end));
		overflow = errno == ERANGE && __builtin_isinf(v->f32);
	} else {
		*v = CALLBOX_F64(strtod(s, &end));
		overflow = errno == ERANGE && __builtin_isinf(v->f64);
	}
	if (*end)
		return arg_error(a, "'%s' is not a number (e.g. 1.5, -2e10, 0x1p-3, inf, nan)",
				 s);
	if (overflow)
		return arg_error(a, "%s is out of range for %s", s,
				 callbox_wire_type_name(type));
	return 0;
}

/* The file's contents in a buffer of its own, never NULL even if empty. */
static int read_file(const struct arg *a, const char *path, uint8_t **data,
		     uint32_t *len)
{
	bool is_stdin = !strcmp(path, "-");
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	size_t size = 0, room = 4096, n;
	uint8_t *buf = NULL, *bigger;
	int ret = 0;

	if (!f)
		return arg_error(a, "%s: %s", path, strerror(errno));
	if (is_stdin)
		path = "stdin";
	for (;;) {
		if (size == room || !buf) {
			/*
			 * No message into the guest can be larger than the
			 * largest input buffer; stop there, not at ENOMEM.
			 */
			if (buf && room >= CALLBOX_IO_BUFFER_MAX) {
				ret = arg_error(a, "%s: %llu MiB or more, more than the largest input buffer holds",
						path, CALLBOX_IO_BUFFER_MAX >> 20);
				break;
			}
			if (buf)
				room *= 2;
			bigger = realloc(buf, room);
			if (!bigger) {
				ret = arg_error(a, "%s: out of memory", path);
				break;
			}
			buf = bigger;
		}
		n = fread(buf + size, 1, room - size, f);
		size += n;
		if (n)
			continue;
		if (ferror(f))
			ret = arg_error(a, "reading %s: %s", path,
					strerror(errno));
		break;
	}
	if (!is_stdin)
		fclose(f);
	if (ret) {
		free(buf);
		return ret;
	}
	*data = buf;
	*len = (uint32_t)size;
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_hex(const struct arg *a, const char *s, uint8_t **data,
		     uint32_t *len)
{
	size_t n = strlen(s), i;
	uint8_t *buf;

	if (n % 2)
		return arg_error(a, "%zu hex digits, an odd number: two make a byte",
				 n);
	for (i = 0; i < n; i++) {
		if (hex_digit(s[i]) < 0)
			return arg_error(a, "'%c' at position %zu of the hex is not a hex digit",
					 s[i], i + 1);
	}
	buf = malloc(n / 2 + 1);
	if (!buf)
		return arg_error(a, "out of memory");
	for (i = 0; i < n / 2; i++)
		buf[i] = (uint8_t)(hex_digit(s[2 * i]) << 4 |
				   hex_digit(s[2 * i + 1]));
	*data = buf;
	*len = (uint32_t)(n / 2);
	return 0;
}

/*
 * Parse one ARG into @v. BYTES data is allocated, in *@owned, for the
 * caller to free; everything else points into argv or needs no memory.
 * Prints what is wrong and returns -EINVAL for a bad ARG.
 */
static int parse_arg(const struct arg *a, struct callbox_wire_value *v,
		     uint8_t **owned, bool *stdin_used)
{
	const char *colon = strchr(a->text, ':'), *value;
	uint8_t type = CALLBOX_WIRE_VOID, *data;
	size_t i, n;
	uint32_t len;
	int ret;

	/* No TYPE: is a bare integer, an i64, as before typed calls. */
	if (!colon) {
		bool negative;
		uint64_t magnitude;

		if (parse_integer(a->text, &negative, &magnitude) == -EINVAL)
			return arg_error(a, "not a 64-bit integer; an ARG without TYPE: is an i64, and other types are given as TYPE:VALUE, e.g. str:%.20s",
					 a->text);
		*v = CALLBOX_I64(0);
		return parse_signed(a, a->text, CALLBOX_WIRE_I64, &v->i64);
	}
	n = (size_t)(colon - a->text);
	for (i = 0; i < ARRAY_SIZE(arg_types); i++) {
		if (strlen(arg_types[i].prefix) == n &&
		    !memcmp(arg_types[i].prefix, a->text, n))
			type = arg_types[i].type;
	}
	if (type == CALLBOX_WIRE_VOID)
		return arg_error(a, "unknown type '%.*s' (TYPE: is one of i32, u32, i64, u64, f32, f64, bool, str, string, bytes)",
				 (int)n, a->text);
	value = colon + 1;
	/* An empty string is a value; an empty number is a slip. */
	if (!*value && type != CALLBOX_WIRE_STRING)
		return arg_error(a, "no value after '%.*s:'", (int)n,
				 a->text);

	memset(v, 0, sizeof(*v));
	v->type = type;
	switch (type) {
	case CALLBOX_WIRE_I32:
	case CALLBOX_WIRE_I64: {
		int64_t x = 0;

		ret = parse_signed(a, value, type, &x);
		if (type == CALLBOX_WIRE_I32)
			v->i32 = (int32_t)x;
		else
			v->i64 = x;
		return ret;
	}
	case CALLBOX_WIRE_U32:
	case CALLBOX_WIRE_U64: {
		uint64_t x = 0;

		ret = parse_unsigned(a, value, type, &x);
		if (type == CALLBOX_WIRE_U32)
			v->u32 = (uint32_t)x;
		else
			v->u64 = x;
		return ret;
	}
	case CALLBOX_WIRE_F32:
	case CALLBOX_WIRE_F64:
		return parse_float(a, value, type, v);
	case CALLBOX_WIRE_BOOL:
		if (!strcmp(value, "true") || !strcmp(value, "1"))
			v->b = true;
		else if (strcmp(value, "false") && strcmp(value, "0"))
			return arg_error(a, "'%s' is not a bool: true, false, 1 or 0",
					 value);
		return 0;
	case CALLBOX_WIRE_STRING:
		/* argv holds no NUL, so any string there is a valid one. */
		*v = CALLBOX_STRING(value);
		return 0;
	default:	/* CALLBOX_WIRE_BYTES */
		if (!strcmp(value, "@-")) {
			if (*stdin_used)
				return arg_error(a, "stdin is read once, by an earlier argument");
			*stdin_used = true;
			ret = read_file(a, "-", &data, &len);
		} else if (value[0] == '@' && value[1]) {
			ret = read_file(a, value + 1, &data, &len);
		} else if (!strncmp(value, "hex:", 4)) {
			ret = parse_hex(a, value + 4, &data, &len);
		} else {
			return arg_error(a, "bytes are given as bytes:@FILE, bytes:@- (stdin) or bytes:hex:HEX");
		}
		if (ret)
			return ret;
		*owned = data;
		*v = CALLBOX_BYTES(data, len);
		return 0;
	}
}

/* ---- the result ---- */

static void print_hex(const uint8_t *p, uint32_t len)
{
	static const char digits[] = "0123456789abcdef";
	uint32_t i;

	for (i = 0; i < len; i++) {
		putchar(digits[p[i] >> 4]);
		putchar(digits[p[i] & 15]);
	}
}

/*
 * Print @v by its type. %.9g and %.17g are the fewest digits that always
 * read back as the same float and double.
 */
static int print_result(const struct callbox_wire_value *v, bool raw)
{
	switch (v->type) {
	case CALLBOX_WIRE_VOID:
		break;
	case CALLBOX_WIRE_I32:
		printf("%" PRId32 "\n", v->i32);
		break;
	case CALLBOX_WIRE_U32:
		printf("%" PRIu32 "\n", v->u32);
		break;
	case CALLBOX_WIRE_I64:
		printf("%" PRId64 "\n", v->i64);
		break;
	case CALLBOX_WIRE_U64:
		printf("%" PRIu64 "\n", v->u64);
		break;
	case CALLBOX_WIRE_F32:
		printf("%.9g\n", (double)v->f32);
		break;
	case CALLBOX_WIRE_F64:
		printf("%.17g\n", v->f64);
		break;
	case CALLBOX_WIRE_BOOL:
		printf("%s\n", v->b ? "true" : "false");
		break;
	case CALLBOX_WIRE_STRING:
	case CALLBOX_WIRE_BYTES:
		if (raw) {
			fwrite(v->data, 1, v->len, stdout);
		} else if (v->type == CALLBOX_WIRE_STRING) {
			printf("%s\n", (const char *)v->data);
		}		else {
			print_hex(v->data, v->len);
			putchar('\n');
		}
		break;
	default:
		/* The library checked the type against the signature. */
		fprintf(stderr, "callbox: a result of unknown type %u\n",
			v->type);
		return 1;
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "callbox: writing the result: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}

/* ---- the host functions guest/examples/host.c calls ---- */

static int host_transform(struct callbox_sandbox *sb,
			  const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result, void *opaque)
{
	(void)sb;
	(void)opaque;
	/* Doubling wraps, as unsigned, rather than overflow. */
	callbox_wire_put_i64(result, (int64_t)((uint64_t)args[0].i64 * 2));
	return 0;
}

static int host_greeting(struct callbox_sandbox *sb,
			 const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result, void *opaque)
{
	size_t size = (size_t)args[0].len + sizeof("Hello, !");
	char *text = malloc(size);

	(void)opaque;
	if (!text)
		return callbox_host_fn_fail(sb, -ENOMEM, "out of memory");
	snprintf(text, size, "Hello, %s!", (const char *)args[0].data);
	/* One too large for the guest's buffer: the library reports it. */
	callbox_wire_put_string(result, text);
	free(text);
	return 0;
}

static int host_wait(struct callbox_sandbox *sb,
		     const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result, void *opaque)
{
	(void)args;
	(void)result;
	(void)opaque;
	return callbox_host_fn_fail(sb, -ENOSYS,
				    "the callbox CLI has no long-running host function");
}

static const struct {
	const char *name;
	const char *signature;
	callbox_host_fn fn;
} host_fns[] = {
	{ "transform", "i64(i64)", host_transform },
	{ "greeting", "string(string)", host_greeting },
	{ "wait", "i64()", host_wait },
};

/* ---- run ---- */

static void list_exports(struct callbox_sandbox *sb, FILE *f,
			 const char *indent)
{
	char text[512];
	unsigned int i;

	for (i = 0; !callbox_sandbox_export(sb, i, text, sizeof(text)); i++)
		fprintf(f, "%s%s\n", indent, text);
}

enum {
	OPT_INPUT_SIZE = 256,
	OPT_OUTPUT_SIZE,
	OPT_RAW,
};

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "stack", required_argument, NULL, 's' },
		{ "heap", required_argument, NULL, 'H' },
		{ "input-size", required_argument, NULL, OPT_INPUT_SIZE },
		{ "output-size", required_argument, NULL, OPT_OUTPUT_SIZE },
		{ "timeout", required_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "list", no_argument, NULL, 'L' },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct callbox_wire_value args[CALLBOX_MAX_PARAMS];
	struct callbox_wire_value result = { .type = CALLBOX_WIRE_VOID };
	uint8_t *owned[CALLBOX_MAX_PARAMS] = { NULL };
	bool list = false, raw = false, stdin_used = false;
	struct callbox_sandbox *sb = NULL;
	const char *guest, *function;
	struct callbox_config cfg;
	int nargs, i, opt, ret, err;
	uint64_t *size;

	callbox_config_init(&cfg);
	/*
	 * The CLI makes one call at a time, so one slot of I/O buffers is
	 * enough, and large --input-size and --output-size fit in less
	 * guest memory than with the library's default of 16.
	 */
	cfg.max_calls = 1;
	while ((opt = getopt_long(argc, argv, "+m:s:H:t:l:Lh", opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (parse_size(optarg, &cfg.mem_size)) {
				fprintf(stderr, "callbox: --mem: '%s' is not a size\n",
					optarg);
				return 2;
			}
			break;
		case 's':
		case 'H':
		case OPT_INPUT_SIZE:
		case OPT_OUTPUT_SIZE:
			size = opt == 's' ? &cfg.stack_size :
			       opt == 'H' ? &cfg.heap_size :
			       opt == OPT_INPUT_SIZE ? &cfg.input_size :
			       &cfg.output_size;
			if (parse_size(optarg, size)) {
				fprintf(stderr, "callbox: --%s: '%s' is not a size\n",
					opt == 's' ? "stack" :
					opt == 'H' ? "heap" :
					opt == OPT_INPUT_SIZE ? "input-size" :
					"output-size", optarg);
				return 2;
			}
			break;
		case 't':
			if (parse_seconds(optarg, &cfg.call_timeout_ns)) {
				fprintf(stderr, "callbox: --timeout: '%s' is not a positive number of seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'l':
			if (parse_log_level(optarg, &cfg.log_level)) {
				fprintf(stderr, "callbox: --log-level: '%s' is not off, error, warn, info, debug or trace\n",
					optarg);
				return 2;
			}
			break;
		case 'L':
			list = true;
			break;
		case OPT_RAW:
			raw = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 1) {
		fprintf(stderr, "callbox: run needs GUEST\n");
		usage(stderr);
		return 2;
	}
	if (list && argc - optind > 1) {
		fprintf(stderr, "callbox: --list takes GUEST only, not a FUNCTION or arguments\n");
		return 2;
	}
	guest = argv[optind];
	function = argc - optind > 1 ? argv[optind + 1] : NULL;
	if (!function)
		list = true;
	nargs = function ? argc - optind - 2 : 0;
	if (nargs > CALLBOX_MAX_PARAMS) {
		fprintf(stderr, "callbox: at most %d arguments, %d given\n",
			CALLBOX_MAX_PARAMS, nargs);
		return 2;
	}
	/* All of them, before the VM is made: a typo costs no boot. */
	ret = 2;
	for (i = 0; i < nargs; i++) {
		struct arg a = { i + 1, argv[optind + 2 + i] };

		if (parse_arg(&a, &args[i], &owned[i], &stdin_used))
			goto out;
	}

	ret = 1;
	sb = callbox_sandbox_new(&cfg);
	if (!sb) {
		fprintf(stderr, "callbox: out of memory\n");
		goto out;
	}
	for (i = 0; i < (int)ARRAY_SIZE(host_fns); i++) {
		if (callbox_sandbox_add_host_fn(sb, host_fns[i].name,
						host_fns[i].signature,
						host_fns[i].fn, NULL)) {
			fprintf(stderr, "callbox: %s\n", callbox_last_error(sb));
			goto out;
		}
	}
	if (callbox_sandbox_load(sb, guest)) {
		fprintf(stderr, "callbox: %s\n", callbox_last_error(sb));
		goto out;
	}
	if (list) {
		list_exports(sb, stdout, "");
		ret = 0;
		goto out;
	}
	err = callbox_call(sb, function, args, nargs, &result);
	if (err) {
		fprintf(stderr, "callbox: %s\n", callbox_last_error(sb));
		/* A misspelt name: show the ones there are. */
		if (err == -ENOENT) {
			fprintf(stderr, "callbox: the functions of %s are:\n",
				guest);
			list_exports(sb, stderr, "  ");
		}
		goto out;
	}
	ret = print_result(&result, raw);
	callbox_value_free(&result);
out:
	callbox_sandbox_free(sb);
	for (i = 0; i < nargs; i++)
		free(owned[i]);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);

	fprintf(stderr, "callbox: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: function signatures. The host checks every call of a guest
 * function against the signature the guest published, and every host
 * call against the signature the host function was registered with, so a
 * mismatch is caught, and explained, before anything runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "signature.h"

_Static_assert(CALLBOX_MAX_PARAMS == CALLBOX_WIRE_MAX_VALUES - 1,
	       "a message holds the parameters and one more value");

static int signature_fail(char *err, size_t errlen, int ret,
			  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

int callbox_type_parse(const char *name, size_t len)
{
	unsigned int type;

	for (type = 0; type < CALLBOX_WIRE_TYPE_COUNT; type++) {
		const char *known = callbox_wire_type_name(type);

		if (strlen(known) == len && !memcmp(known, name, len))
			return (int)type;
	}
	return -1;
}

static const char *skip_spaces(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* The length of the type name at @p: letters and digits. */
static size_t word_length(const char *p)
{
	size_t n = 0;

	while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9'))
		n++;
	return n;
}

int callbox_signature_parse(const char *text, struct callbox_signature *sig,
			    char *err, size_t errlen)
{
	const char *p = skip_spaces(text);
	size_t n = word_length(p);
	int type;

	memset(sig, 0, sizeof(*sig));
	if (errlen)
		err[0] = '\0';

	type = callbox_type_parse(p, n);
	if (type < 0)
		return signature_fail(err, errlen, -EINVAL,
				      "signature \"%s\": the result type '%.*s' is not one of void, i32, u32, i64, u64, f32, f64, bool, string, bytes",
				      text, (int)(n || !*p ? n : 1), p);
	sig->ret_type = (uint8_t)type;
	p = skip_spaces(p + n);
	if (*p != '(')
		return signature_fail(err, errlen, -EINVAL,
				      "signature \"%s\": expected '(' after the result type",
				      text);
	p = skip_spaces(p + 1);
	if (*p == ')')
		goto close;

	for (;;) {
		n = word_length(p);
		type = callbox_type_parse(p, n);
		if (type <= 0)
			return signature_fail(err, errlen, -EINVAL,
					      "signature \"%s\": parameter %u: '%.*s' is not one of i32, u32, i64, u64, f32, f64, bool, string, bytes",
					      text, sig->nr_params + 1,
					      (int)(n || !*p ? n : 1), p);
		if (sig->nr_params == CALLBOX_MAX_PARAMS)
			return signature_fail(err, errlen, -EINVAL,
					      "signature \"%s\": more than %d parameters",
					      text, CALLBOX_MAX_PARAMS);
		sig->params[sig->nr_params++] = (uint8_t)type;
		p = skip_spaces(p + n);
		if (*p == ')')
			break;
		if (*p != ',')
			return signature_fail(err, errlen, -EINVAL,
					      "signature \"%s\": expected ',' or ')' after parameter %u",
					      text, sig->nr_params);
		p = skip_spaces(p + 1);
	}
close:
	p = skip_spaces(p + 1);
	if (*p)
		return signature_fail(err, errlen, -EINVAL,
				      "signature \"%s\": unexpected text after ')'",
				      text);
	return 0;
}

void callbox_signature_format(const struct callbox_signature *sig,
			      const char *name, char *buf, size_t len)
{
	size_t used;
	unsigned int i;

	if (!len)
		return;
	snprintf(buf, len, "%s %s(", callbox_wire_type_name(sig->ret_type),
		 name);
	for (i = 0; i < sig->nr_params; i++) {
		used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
			 callbox_wire_type_name(sig->params[i]));
	}
	used = strlen(buf);
	snprintf(buf + used, len - used, ")");
}

int callbox_signature_check(const struct callbox_signature *sig,
			    const char *name,
			    const struct callbox_wire_value *args,
			    unsigned int nr_args, char *err, size_t errlen)
{
	char text[CALLBOX_FUNCTION_NAME_MAX + CALLBOX_MAX_PARAMS * 8 + 16];
	unsigned int i;

	if (errlen)
		err[0] = '\0';
	if (nr_args == sig->nr_params) {
		for (i = 0; i < nr_args; i++)
			if (args[i].type != sig->params[i])
				break;
		if (i == nr_args)
			return 0;
	}

	/* A mismatch: only now is the signature worth putting in words. */
	callbox_signature_format(sig, name, text, sizeof(text));
	if (nr_args != sig->nr_params)
		return signature_fail(err, errlen, -EINVAL,
				      "%s: %u argument%s given, but the function takes %u (%s)",
				      name, nr_args, nr_args == 1 ? "" : "s",
				      sig->nr_params, text);
	for (i = 0; i < nr_args; i++) {
		if (args[i].type != sig->params[i])
			return signature_fail(err, errlen, -EINVAL,
					      "%s: argument %u is %s, but the function takes %s there (%s)",
					      name, i + 1,
					      callbox_wire_type_name(args[i].type),
					      callbox_wire_type_name(sig->params[i]),
					      text);
	}
	return 0;
}

int callbox_signature_from_desc(const struct callbox_export_desc *desc,
				struct callbox_signature *sig, char *name,
				char *err, size_t errlen)
{
	size_t len = strnlen(desc->name, sizeof(desc->name));
	unsigned int i;

	memset(sig, 0, sizeof(*sig));
	if (errlen)
		err[0] = '\0';
	if (len == sizeof(desc->name))
		return signature_fail(err, errlen, -EPROTO,
				      "the name is not NUL-terminated within %zu bytes",
				      sizeof(desc->name));
	if (!len)
		return signature_fail(err, errlen, -EPROTO,
				      "the name is empty");
	for (i = 0; i < len; i++) {
		if (desc->name[i] <= ' ' || desc->name[i] >= 0x7f)
			return signature_fail(err, errlen, -EPROTO,
					      "the name has byte 0x%02x at %u, not printable ASCII",
					      (unsigned char)desc->name[i], i);
	}
	memcpy(name, desc->name, len + 1);
	if (desc->ret_type >= CALLBOX_WIRE_TYPE_COUNT)
		return signature_fail(err, errlen, -EPROTO,
				      "%s: the result type tag %u is no type",
				      name, desc->ret_type);
	if (desc->nr_params > CALLBOX_MAX_PARAMS)
		return signature_fail(err, errlen, -EPROTO,
				      "%s: %u parameters, more than %d",
				      name, desc->nr_params, CALLBOX_MAX_PARAMS);
	sig->ret_type = desc->ret_type;
	sig->nr_params = desc->nr_params;
	for (i = 0; i < desc->nr_params; i++) {
		if (desc->params[i] == CALLBOX_WIRE_VOID ||
		    desc->params[i] >= CALLBOX_WIRE_TYPE_COUNT)
			return signature_fail(err, errlen, -EPROTO,
					      "%s: parameter %u has type tag %u, which is no parameter type",
					      name, i + 1, desc->params[i]);
		sig->params[i] = desc->params[i];
	}
	return 0;
}

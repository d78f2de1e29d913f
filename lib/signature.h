/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * libcallbox internal: the signatures of guest and host functions, and
 * the checks of typed values against them.
 */
#ifndef CALLBOX_SIGNATURE_H
#define CALLBOX_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#include <callbox/abi.h>
#include <callbox/wire.h>

/**
 * struct callbox_signature - what a function takes and returns
 * @ret_type: the result's &enum callbox_wire_type, VOID for none
 * @nr_params: at most CALLBOX_MAX_PARAMS
 * @params: the parameters' types, none VOID
 */
struct callbox_signature {
	uint8_t ret_type;
	uint8_t nr_params;
	uint8_t params[CALLBOX_MAX_PARAMS];
};

/**
 * callbox_type_parse() - the type tag of a type's name
 * @name: "i32", "u32", "i64", "u64", "f32", "f64", "bool", "string",
 *	"bytes" or "void"; not necessarily NUL-terminated
 * @len: the name's length
 *
 * Return: the &enum callbox_wire_type, or -1 for no type.
 */
int callbox_type_parse(const char *name, size_t len);

/**
 * callbox_signature_parse() - parse a signature such as "i64(i64, string)"
 * @text: the result's type, then the parameters' types in parentheses,
 *	separated by commas; "void()" takes and returns nothing. Spaces are
 *	allowed around every token.
 * @sig: filled on success
 * @err: a one-line reason on failure, always NUL-terminated
 * @errlen: the size of @err
 *
 * Return: 0, or -EINVAL.
 */
int callbox_signature_parse(const char *text, struct callbox_signature *sig,
			    char *err, size_t errlen);

/**
 * callbox_signature_format() - a signature in C-like words
 * @sig: the signature
 * @name: the function's name
 * @buf: where, always NUL-terminated
 * @len: the size of @buf
 *
 * For example "i64 add(i64, i64)" or "void ping()".
 */
void callbox_signature_format(const struct callbox_signature *sig,
			      const char *name, char *buf, size_t len);

/**
 * callbox_signature_check() - do typed values fit a signature?
 * @sig: the signature
 * @name: the function's name, for the message
 * @args: the values
 * @nr_args: how many
 * @err: a one-line reason on failure, always NUL-terminated
 * @errlen: the size of @err
 *
 * The message names the function, the mismatch and the signature, e.g.
 * "add: argument 2 is string, but the function takes i64 there
 * (i64 add(i64, i64))".
 *
 * Return: 0, or -EINVAL.
 */
int callbox_signature_check(const struct callbox_signature *sig,
			    const char *name,
			    const struct callbox_wire_value *args,
			    unsigned int nr_args, char *err, size_t errlen);

/**
 * callbox_signature_from_desc() - check an export the guest published
 * @desc: a copy of the guest's &struct callbox_export_desc, hostile
 * @sig: filled on success
 * @name: the export's name, on success; at least CALLBOX_FUNCTION_NAME_MAX
 *	bytes
 * @err: a one-line reason on failure, always NUL-terminated
 * @errlen: the size of @err
 *
 * The name must be NUL-terminated, non-empty and printable ASCII without
 * spaces; the types must be type tags, and no parameter VOID.
 *
 * Return: 0, or -EPROTO.
 */
int callbox_signature_from_desc(const struct callbox_export_desc *desc,
				struct callbox_signature *sig, char *name,
				char *err, size_t errlen);

#endif /* CALLBOX_SIGNATURE_H */

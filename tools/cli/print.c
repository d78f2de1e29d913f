// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox CLI: printing a call's result on stdout, by its type, as
 * callbox_value_format() writes values, followed by a newline; or, with
 * --raw, a string or bytes result as it is.
 *
 * A result may be as large as the output buffer, up to 256 MiB: a string
 * is written straight from the result, and bytes are formatted a piece
 * at a time, so that no copy of the whole text is ever made.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"

/* The bytes formatted at a time: 8 KiB of hex, and a NUL. */
#define HEX_PIECE 4096

/* @v's bytes in hex, one piece at a time, with the library's formatter. */
static void print_hex(const struct callbox_wire_value *v)
{
	char text[2 * HEX_PIECE + 1];
	struct callbox_wire_value piece = { .type = CALLBOX_WIRE_BYTES };
	uint32_t done, n;

	for (done = 0; done < v->len; done += n) {
		n = v->len - done < HEX_PIECE ? v->len - done : HEX_PIECE;
		piece.data = v->data + done;
		piece.len = n;
		callbox_value_format(&piece, text, sizeof(text));
		fwrite(text, 1, 2 * (size_t)n, stdout);
	}
}

/**
 * cli_print_result() - print a call's result on stdout, by its type
 * @v: the result
 * @raw: write a string or bytes result as it is, with no newline
 *
 * Return: CLI_EXIT_OK, or CLI_EXIT_FAIL with a message on stderr if it
 * could not be written.
 */
int cli_print_result(const struct callbox_wire_value *v, bool raw)
{
	char text[64];

	switch (v->type) {
	case CALLBOX_WIRE_VOID:
		break;
	case CALLBOX_WIRE_STRING:
	case CALLBOX_WIRE_BYTES:
		/* A string holds no NUL (the wire refuses one), bytes may. */
		if (raw || v->type == CALLBOX_WIRE_STRING)
			fwrite(v->data, 1, v->len, stdout);
		else
			print_hex(v);
		if (!raw)
			putchar('\n');
		break;
	case CALLBOX_WIRE_I32:
	case CALLBOX_WIRE_U32:
	case CALLBOX_WIRE_I64:
	case CALLBOX_WIRE_U64:
	case CALLBOX_WIRE_F32:
	case CALLBOX_WIRE_F64:
	case CALLBOX_WIRE_BOOL:
		/* The longest, "-2.2250738585072014e-308", fits. */
		callbox_value_format(v, text, sizeof(text));
		puts(text);
		break;
	default:
		/* The library checked the type against the signature. */
		fprintf(stderr, "callbox: a result of unknown type %u\n",
			v->type);
		return CLI_EXIT_FAIL;
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "callbox: writing the result: %s\n",
			strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* How results are printed, for `callbox run --help`. */
void cli_print_usage(FILE *f)
{
	fputs("The result is printed by its type: integers in decimal, floats with\n"
	      "every digit needed, bool as true or false, a string as it is, bytes\n"
	      "in hex, each followed by a newline; a void result prints nothing.\n",
	      f);
}

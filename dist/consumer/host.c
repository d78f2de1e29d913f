// SPDX-License-Identifier: GPL-2.0
/*
 * The outside project's host program, built with the installed library
 * only (pkg-config --cflags --libs libcallbox): loads GUEST.elf, calls
 * its add3(1, 2, 3), and says how it was linked.
 */
#include <stdio.h>
#include <string.h>

#include <callbox/callbox.h>

#ifndef LINKED
#define LINKED "?"
#endif

int main(int argc, char **argv)
{
	const int64_t args[] = { 1, 2, 3 };
	struct callbox_sandbox *sb;
	int64_t sum;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s GUEST.elf\n", argv[0]);
		return 2;
	}
	err = callbox_sandbox_new(NULL, &sb);
	if (!err)
		err = callbox_sandbox_load(sb, argv[1]);
	if (!err)
		err = callbox_call_int(sb, "add3", args, 3, &sum);
	if (err) {
		fprintf(stderr, "consumer: %s: %s\n", argv[1],
			callbox_sandbox_last_error(sb));
		callbox_sandbox_free(sb);
		return 1;
	}
	printf("consumer (%s): add3(1, 2, 3) = %lld\n", LINKED,
	       (long long)sum);
	callbox_sandbox_free(sb);
	return sum == 6 ? 0 : 1;
}

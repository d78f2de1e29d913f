// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Example guest: compute-heavy functions, where the guest's time goes
 * into work rather than into exits.
 */
#include <callbox/guest.h>

#define FNV_OFFSET	0xcbf29ce484222325ull
#define FNV_PRIME	0x100000001b3ull

/* 64-bit FNV-1a of the bytes. */
static uint64_t fnv1a(const uint8_t *p, uint32_t len, uint64_t h)
{
	uint32_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

static void fnv1a64(const struct callbox_wire_value *args,
		    struct callbox_wire_writer *result)
{
	callbox_wire_put_u64(result, fnv1a(args[0].data, args[0].len,
					   FNV_OFFSET));
}
CALLBOX_EXPORT(fnv1a64, CALLBOX_WIRE_U64, CALLBOX_WIRE_BYTES);

/* FNV-1a over the bytes @rounds times, each round seeded by the last. */
static void fnv1a64_rounds(const struct callbox_wire_value *args,
			   struct callbox_wire_writer *result)
{
	uint64_t h = FNV_OFFSET;
	uint32_t i;

	for (i = 0; i < args[1].u32; i++)
		h = fnv1a(args[0].data, args[0].len, h);
	callbox_wire_put_u64(result, h);
}
CALLBOX_EXPORT(fnv1a64_rounds, CALLBOX_WIRE_U64, CALLBOX_WIRE_BYTES,
	       CALLBOX_WIRE_U32);

/* How many primes are <= n: a sieve of Eratosthenes on the heap. */
static void count_primes(const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result)
{
	uint32_t n = args[0].u32, count = 0;
	uint64_t i, j;
	uint8_t *composite;

	if (n < 2) {
		callbox_wire_put_u32(result, 0);
		return;
	}
	composite = calloc((size_t)n + 1, 1);
	if (!composite) {
		callbox_fail("no memory for a sieve of %u bytes", n + 1);
		return;
	}
	for (i = 2; i <= n; i++) {
		if (composite[i])
			continue;
		count++;
		for (j = i * i; j <= n; j += i)
			composite[j] = 1;
	}
	free(composite);
	callbox_wire_put_u32(result, count);
}
CALLBOX_EXPORT(count_primes, CALLBOX_WIRE_U32, CALLBOX_WIRE_U32);

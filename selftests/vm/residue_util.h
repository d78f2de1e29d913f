/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The residue guest's pieces of CPU state and words of memory, for the
 * suites that check what a reset or a restore puts back: each piece is
 * read and written through an export, and a test scribbles over all of
 * them, puts the guest back, and checks that each is as it was.
 */
#ifndef CALLBOX_RESIDUE_UTIL_H
#define CALLBOX_RESIDUE_UTIL_H

#include <inttypes.h>

#include "sdk_util.h"

#define MSR_STAR		0xc0000081u
#define MSR_LSTAR		0xc0000082u
#define MSR_CSTAR		0xc0000083u
#define MSR_SYSCALL_MASK	0xc0000084u
#define MSR_FS_BASE		0xc0000100u
#define MSR_GS_BASE		0xc0000101u
#define MSR_KERNEL_GS_BASE	0xc0000102u
#define MSR_TSC_AUX		0xc0000103u
#define MSR_SYSENTER_CS		0x174u
#define MSR_SYSENTER_ESP	0x175u
#define MSR_SYSENTER_EIP	0x176u
#define MSR_PAT			0x277u
#define MSR_MTRR_PHYSBASE0	0x200u
#define MSR_MTRR_DEF_TYPE	0x2ffu
#define MSR_MC0_ADDR		0x402u
#define MSR_MC0_MISC		0x403u

/* "KVMK", the start of KVM's signature in CPUID 0x40000000's EBX. */
#define KVM_SIGNATURE_EBX	0x4b4d564bu

#define PATTERN			0x5a5a5a5aa5a5a5a5ull
#define NR_WORDS		5

/*
 * One piece of state: read with @read(@which); set to @value with
 * @write(@which, @value), or, for the extended state, all at once by
 * xstate_scribble(PATTERN), after which @read finds @value.
 */
struct piece {
	const char *name;
	const char *read, *write;
	uint32_t which;
	uint64_t value;
};

#define MSR(n, v)	{ #n, "read_msr", "write_msr", n, v }
#define DR(n, v)	{ "DR" #n, "read_dr", "write_dr", n, v }
#define CR(n, v)	{ "CR" #n, "read_cr", "write_cr", n, v }
#define XSTATE(n, w, v)	{ n, "xstate_read", NULL, w, v }

static const struct piece pieces[] = {
	MSR(MSR_STAR, 0x0013000800000000ull),
	MSR(MSR_LSTAR, 0xffffffff81000000ull),
	MSR(MSR_CSTAR, 0xffffffff81000040ull),
	MSR(MSR_SYSCALL_MASK, 0x47700),
	MSR(MSR_FS_BASE, 0x7f0000001000ull),
	MSR(MSR_GS_BASE, 0x7f0000002000ull),
	MSR(MSR_KERNEL_GS_BASE, 0x7f0000003000ull),
	MSR(MSR_TSC_AUX, 0x42),
	MSR(MSR_SYSENTER_CS, 0x10),
	MSR(MSR_SYSENTER_ESP, 0x1000),
	MSR(MSR_SYSENTER_EIP, 0x2000),
	MSR(MSR_PAT, 0x0606060606060606ull),
	/* Instruction breakpoints on page 0, which no code runs from. */
	DR(0, 0x10), DR(1, 0x20), DR(2, 0x30), DR(3, 0x40),
	DR(7, 0x455),
	/*
	 * CR8 too: without a local APIC in the kernel, KVM_RUN loads it
	 * from kvm_run, which the library sets with the rest. (It was
	 * blamed on the emulator once, and so was MXCSR, wrongly both.)
	 */
	CR(2, 0xdead000),
	CR(8, 5),
	XSTATE("XCR0", 0, 0x7),
	XSTATE("YMM0's upper half", 1, PATTERN),
	XSTATE("XMM15", 2, PATTERN),
	XSTATE("MXCSR", 3, 0x9f80),
	XSTATE("x87 control word", 4, 0x27f),
};

#define NR_PIECES (sizeof(pieces) / sizeof(pieces[0]))

static inline int read_piece(struct callbox_sandbox *sb,
			     const struct piece *p, int64_t *v)
{
	int64_t arg = p->which;

	return callbox_call_int(sb, p->read, &arg, 1, v);
}

static inline int write_piece(struct callbox_sandbox *sb,
			      const struct piece *p)
{
	int64_t args[2] = { p->which, (int64_t)p->value };
	int64_t r;
	int ret = callbox_call_int(sb, p->write, args, 2, &r);

	return ret ? ret : (int)r;
}

/* Calls take well under a second; a reset's init the same. */
#define CALL_TIMEOUT_NS (30 * 1000 * MS)

/* A sandbox of the residue guest, and what it found when fresh. */
struct residue {
	struct callbox_sandbox *sb;
	int64_t fresh[NR_PIECES];
	bool has[NR_PIECES];	/* the CPU has it (TSC_AUX, AVX may not) */
};

/* The config the suites load the residue guest with. */
static inline void residue_config(struct callbox_config *cfg)
{
	callbox_config_init(cfg);
	cfg->call_timeout_ns = CALL_TIMEOUT_NS;
	cfg->init_timeout_ns = CALL_TIMEOUT_NS;
}

/* What a fresh sandbox finds; a piece it cannot read, it lacks. */
static inline void residue_read_fresh(struct __test_metadata *_metadata,
				      struct residue *self)
{
	unsigned int i;

	for (i = 0; i < NR_PIECES; i++) {
		self->has[i] = !read_piece(self->sb, &pieces[i], &self->fresh[i]) &&
			       self->fresh[i] != -2;
		if (!self->has[i]) {
			TH_LOG("%s: not on this CPU (%s)", pieces[i].name,
			       callbox_sandbox_last_error(self->sb));
			ASSERT_EQ(0, callbox_sandbox_reset(self->sb));
		}
	}
}

/* Write every piece, and check that each write took. */
static inline void scribble(struct __test_metadata *_metadata,
			    struct residue *self)
{
	int64_t pattern = (int64_t)PATTERN;
	unsigned int i;
	int64_t v;

	for (i = 0; i < NR_PIECES; i++) {
		if (!self->has[i] || !pieces[i].write)
			continue;
		ASSERT_EQ(0, write_piece(self->sb, &pieces[i])) {
			TH_LOG("writing %s: %s", pieces[i].name,
			       callbox_sandbox_last_error(self->sb));
		}
	}
	ASSERT_EQ(0, callbox_call_int(self->sb, "xstate_scribble", &pattern, 1,
				      &v));
	for (i = 0; i < NR_PIECES; i++) {
		if (!self->has[i])
			continue;
		ASSERT_EQ(0, read_piece(self->sb, &pieces[i], &v));
		EXPECT_EQ((int64_t)pieces[i].value, v) {
			TH_LOG("%s did not take %#" PRIx64 ": reads %#" PRIx64,
			       pieces[i].name, pieces[i].value, (uint64_t)v);
		}
		EXPECT_NE(self->fresh[i], v) {
			TH_LOG("%s: the scribble is its fresh value", pieces[i].name);
		}
	}
}

/* Every piece as a fresh sandbox had it. */
static inline void expect_pieces_fresh(struct __test_metadata *_metadata,
				       struct residue *self)
{
	unsigned int i;
	int64_t v;

	for (i = 0; i < NR_PIECES; i++) {
		if (!self->has[i])
			continue;
		ASSERT_EQ(0, read_piece(self->sb, &pieces[i], &v)) {
			TH_LOG("reading %s: %s", pieces[i].name,
			       callbox_sandbox_last_error(self->sb));
		}
		EXPECT_EQ(self->fresh[i], v) {
			TH_LOG("%s survived the reset: %#" PRIx64 ", fresh %#" PRIx64,
			       pieces[i].name, (uint64_t)v,
			       (uint64_t)self->fresh[i]);
		}
	}
}

/*
 * And in memory: a word of the image's data and of its bss, one the init
 * set, one of the heap and one at the bottom of the stack.
 */
struct word {
	const char *name;
	int64_t addr, fresh;
};

#define INIT_WORD	0x1717171717171717ll

static inline void find_words(struct __test_metadata *_metadata,
			      struct callbox_sandbox *sb, struct word *w)
{
	static const char *const names[] = {
		"image data", "image bss", "init's", "heap", "stack bottom",
	};
	int64_t i;

	for (i = 0; i < NR_WORDS; i++) {
		w[i].name = names[i];
		if (i < 3)
			ASSERT_EQ(0, callbox_call_int(sb, "data_addr", &i, 1,
						      &w[i].addr));
	}
	w[3].addr = 2 << 20;
	w[4].addr = (int64_t)(CALLBOX_DEFAULT_MEM_SIZE -
			      CALLBOX_DEFAULT_STACK_SIZE + 512);
	for (i = 0; i < NR_WORDS; i++)
		ASSERT_EQ(0, callbox_call_int(sb, "peek", &w[i].addr, 1,
					      &w[i].fresh));
	EXPECT_EQ(0x5eed5eed5eed5eedll, w[0].fresh);
	EXPECT_EQ(0, w[1].fresh);
	EXPECT_EQ(INIT_WORD, w[2].fresh);
	EXPECT_EQ(0, w[3].fresh);
	EXPECT_EQ(0, w[4].fresh);
}

static inline void poke_words(struct __test_metadata *_metadata,
			      struct callbox_sandbox *sb, const struct word *w)
{
	int64_t args[2], v;
	unsigned int i;

	for (i = 0; i < NR_WORDS; i++) {
		args[0] = w[i].addr;
		args[1] = (int64_t)PATTERN + i;
		ASSERT_EQ(0, callbox_call_int(sb, "poke", args, 2, &v));
		ASSERT_EQ(0, callbox_call_int(sb, "peek", args, 1, &v));
		ASSERT_EQ(args[1], v);
	}
}

static inline void expect_words_fresh(struct __test_metadata *_metadata,
				      struct callbox_sandbox *sb,
				      const struct word *w, const char *after)
{
	unsigned int i;
	int64_t v;

	for (i = 0; i < NR_WORDS; i++) {
		ASSERT_EQ(0, callbox_call_int(sb, "peek", (int64_t *)&w[i].addr,
					      1, &v));
		EXPECT_EQ(w[i].fresh, v) {
			TH_LOG("after %s, the %s word at %#" PRIx64 " is %#" PRIx64 ", not %#" PRIx64,
			       after, w[i].name, (uint64_t)w[i].addr,
			       (uint64_t)v, (uint64_t)w[i].fresh);
		}
	}
}

static inline void count_init_logs(struct callbox_sandbox *sb,
				   unsigned int level, const char *message,
				   void *opaque)
{
	*(int *)opaque += !strcmp(message, "residue init");
}

/*
 * A restore puts the guest back as it was once its init had exited, the
 * init's own writes included, without running the init again; a reset
 * after it runs the init again. Twice over, so that a restore after a
 * restore, and a reset after one, start from what the last one left.
 */

#endif /* CALLBOX_RESIDUE_UTIL_H */

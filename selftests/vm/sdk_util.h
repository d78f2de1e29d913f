/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the suites that run the example guests through libcallbox's
 * host SDK, in the triples of callbox_util.h: _foo() returns 0 or -errno,
 * foo() asserts success, foo_err(errno, ...) expects that failure.
 *
 * A guest is named as its file in GUEST_DIR without ".elf" ("arith"). A
 * failed load logs the library's own words for it, which say why.
 */
#ifndef CALLBOX_SELFTEST_SDK_UTIL_H
#define CALLBOX_SELFTEST_SDK_UTIL_H

#include <elf.h>
#include <stdio.h>

#include <callbox/callbox.h>

#include "callbox_util.h"

/* One argument, as the array the calls take. */
#define ONE(v) ((struct callbox_wire_value[]){ v })

/* A new sandbox with @cfg (NULL: the defaults), no guest in it yet. */
#define sandbox_new(cfg)						\
	({								\
		struct callbox_sandbox *__sb = NULL;			\
		ASSERT_EQ(0, callbox_sandbox_new(cfg, &__sb)) {		\
			TH_LOG("%s", callbox_sandbox_last_error(NULL));	\
		}							\
		__sb;							\
	})

/* Load @guest into @sb, a sandbox from sandbox_new(): 0 or -errno. */
static inline int _load_into(struct callbox_sandbox *sb, const char *guest)
{
	char path[128];

	snprintf(path, sizeof(path), GUEST_DIR "/%s.elf", guest);
	return callbox_sandbox_load(sb, path);
}

#define load_into(sb, guest)						\
	({								\
		int __ret = _load_into(sb, guest);			\
		ASSERT_EQ(0, __ret) {					\
			TH_LOG("loading %s: %s", guest,			\
			       callbox_sandbox_last_error(sb));		\
		}							\
	})

#define load_into_err(_errno, sb, guest) \
	({ EXPECT_EQ(-(_errno), _load_into(sb, guest)); })

/*
 * A new sandbox with @cfg and @guest loaded into it: 0 or -errno, and the
 * sandbox in *@sb either way, for its callbox_sandbox_last_error(); NULL
 * only if it could not be created.
 */
static inline int _load(const struct callbox_config *cfg, const char *guest,
			struct callbox_sandbox **sb)
{
	int ret = callbox_sandbox_new(cfg, sb);

	return ret ? ret : _load_into(*sb, guest);
}

/* The same, asserting success: the loaded sandbox. */
#define load(cfg, guest)						\
	({								\
		struct callbox_sandbox *__lsb = sandbox_new(cfg);	\
		load_into(__lsb, guest);				\
		__lsb;							\
	})

/* Does the last error mention @needle? Logs it either way on failure. */
#define EXPECT_ERROR(sb, needle)					\
	EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(sb), needle)) { \
		TH_LOG("error \"%s\" lacks \"%s\"",			\
		       callbox_sandbox_last_error(sb), needle);		\
	}

/* A thread that runs calls with callbox_call_run(). */
struct lib_runner {
	struct callbox_sandbox *sb;
	int calls;	/* run this many, or until an error if < 0 */
	int ret;
};

static inline void *lib_runner(void *p)
{
	struct lib_runner *r = p;
	int i;

	for (i = 0; r->calls < 0 || i < r->calls; i++) {
		r->ret = callbox_call_run(r->sb, 0);
		if (r->ret)
			break;
	}
	return NULL;
}

/* The host function "transform", i64(i64), of host.elf: doubles. */
static inline int host_double(struct callbox_sandbox *sb,
			      const struct callbox_wire_value *args,
			      struct callbox_wire_writer *result, void *opaque)
{
	(void)sb;
	(void)opaque;
	callbox_wire_put_i64(result, 2 * args[0].i64);
	return 0;
}

/* A thread that runs calls on sandbox @p until it is stopped. */
static inline void *run_until_stopped(void *p)
{
	struct callbox_sandbox *sb = p;

	while (callbox_call_run(sb, 0) != -ESHUTDOWN)
		;
	return NULL;
}

/* The address of symbol @name in the ELF file @path, or 0. */
static inline uint64_t elf_symbol(const char *path, const char *name)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	uint64_t value = 0;
	char *image = NULL;
	long size;
	FILE *f;
	int i;

	f = fopen(path, "rb");
	if (!f)
		return 0;
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < (long)sizeof(*eh) ||
	    fseek(f, 0, SEEK_SET) || !(image = malloc(size)) ||
	    fread(image, 1, size, f) != (size_t)size)
		goto out;
	eh = (const Elf64_Ehdr *)image;
	if (eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(*sh) > (uint64_t)size)
		goto out;
	sh = (const Elf64_Shdr *)(image + eh->e_shoff);
	for (i = 0; i < eh->e_shnum && !value; i++) {
		const Elf64_Sym *sym = (const Elf64_Sym *)(image + sh[i].sh_offset);
		const char *str;
		uint64_t j;

		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
			continue;
		str = image + sh[sh[i].sh_link].sh_offset;
		for (j = 0; j < sh[i].sh_size / sizeof(*sym); j++) {
			if (!strcmp(str + sym[j].st_name, name)) {
				value = sym[j].st_value;
				break;
			}
		}
	}
out:
	free(image);
	fclose(f);
	return value;
}

#endif /* CALLBOX_SELFTEST_SDK_UTIL_H */

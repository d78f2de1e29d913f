// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of callbox_elf_load() and callbox_read_file() (lib/elf.c).
 *
 * Most tests start from a small valid image built by hand and break one
 * thing. Every load works on an exact-size heap copy of the file, so a read
 * past its end is caught by ASan or valgrind; every failed load must return
 * the expected error, explain itself in err, and leave guest memory and
 * *entry untouched.
 *
 * The example guests are read from $CALLBOX_GUEST_BUILD, by default from
 * the build tree this test was built in (CALLBOX_GUEST_BUILD, from the
 * Makefile).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/elf.h>

#include <callbox/abi.h>

/*
 * The 6.1 harness, and the TEST() wrappers it expands to in this file, have
 * unused parameters, which -Wextra -Werror would reject.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

#include "elf.h"

#define MEM_SIZE	(4ull << 20)
#define TEXT_ADDR	CALLBOX_GPA_IMAGE_MIN
#define DATA_ADDR	(CALLBOX_GPA_IMAGE_MIN + 0x1000)
#define DATA_MEMSZ	0x100ull
#define POISON		0xa5
#define ENTRY_UNSET	0xdeadbeefull

/*
 * A complete two-segment executable: code (R-X) at TEXT_ADDR, and data
 * (RW-) at DATA_ADDR whose memory size exceeds its file size, so loading
 * it must zero-fill. The data bytes come last, so any truncation of the
 * file cuts something a correct loader needs.
 */
struct image {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	unsigned char text[16];
	unsigned char data[8];
};

_Static_assert(sizeof(struct image) == 64 + 2 * 56 + 16 + 8,
	       "no padding inside the image");

static void image_init(struct image *img)
{
	memset(img, 0, sizeof(*img));

	memcpy(img->eh.e_ident, ELFMAG, SELFMAG);
	img->eh.e_ident[EI_CLASS] = ELFCLASS64;
	img->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	img->eh.e_ident[EI_VERSION] = EV_CURRENT;
	img->eh.e_type = ET_EXEC;
	img->eh.e_machine = EM_X86_64;
	img->eh.e_version = EV_CURRENT;
	img->eh.e_entry = TEXT_ADDR;
	img->eh.e_phoff = offsetof(struct image, ph);
	img->eh.e_ehsize = sizeof(Elf64_Ehdr);
	img->eh.e_phentsize = sizeof(Elf64_Phdr);
	img->eh.e_phnum = 2;

	img->ph[0] = (Elf64_Phdr) {
		.p_type = PT_LOAD,
		.p_flags = PF_R | PF_X,
		.p_offset = offsetof(struct image, text),
		.p_vaddr = TEXT_ADDR,
		.p_paddr = TEXT_ADDR,
		.p_filesz = sizeof(img->text),
		.p_memsz = sizeof(img->text),
		.p_align = 0x1000,
	};
	img->ph[1] = (Elf64_Phdr) {
		.p_type = PT_LOAD,
		.p_flags = PF_R | PF_W,
		.p_offset = offsetof(struct image, data),
		.p_vaddr = DATA_ADDR,
		.p_paddr = DATA_ADDR,
		.p_filesz = sizeof(img->data),
		.p_memsz = DATA_MEMSZ,
		.p_align = 0x1000,
	};

	/* cli; hlt; jmp .-2; then int3 padding */
	memcpy(img->text, "\xfa\xf4\xeb\xfd", 4);
	memset(img->text + 4, 0xcc, sizeof(img->text) - 4);
	memcpy(img->data, "callbox", 8);
}

FIXTURE(elf) {
	struct image img;
	unsigned char *mem;
	uint64_t entry;
	char err[256];
};

FIXTURE_SETUP(elf)
{
	image_init(&self->img);
	self->mem = malloc(MEM_SIZE);
	ASSERT_NE(NULL, self->mem);
	memset(self->mem, POISON, MEM_SIZE);
	self->entry = ENTRY_UNSET;
	memset(self->err, 'x', sizeof(self->err));
}

FIXTURE_TEARDOWN(elf)
{
	free(self->mem);
}

/* Load @len bytes from an exact-size copy, so overreads are detectable. */
static int load_bytes(FIXTURE_DATA(elf) *self, const void *bytes, size_t len)
{
	void *copy = malloc(len);
	int ret;

	if (len && !copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, bytes, len);
	ret = callbox_elf_load(copy, len, self->mem, MEM_SIZE,
			       CALLBOX_GPA_IMAGE_MIN, &self->entry, NULL,
			       self->err, sizeof(self->err));
	free(copy);
	return ret;
}

static int load(FIXTURE_DATA(elf) *self)
{
	return load_bytes(self, &self->img, sizeof(self->img));
}

static bool mem_untouched(const unsigned char *mem, uint64_t from,
			  uint64_t to)
{
	uint64_t i;

	for (i = from; i < to; i++)
		if (mem[i] != POISON)
			return false;
	return true;
}

/* A failed load: the right error, a reason, and no side effect. */
#define ASSERT_LOAD_FAILS(errno_) do {					\
	int __ret = load(self);						\
									\
	TH_LOG("err: %s", self->err);					\
	ASSERT_EQ(-(errno_), __ret);					\
	ASSERT_NE('\0', self->err[0]);				\
	ASSERT_LT(strlen(self->err), sizeof(self->err));		\
	ASSERT_EQ(ENTRY_UNSET, self->entry);				\
	ASSERT_TRUE(mem_untouched(self->mem, 0, MEM_SIZE));		\
} while (0)

TEST_F(elf, valid)
{
	ASSERT_EQ(0, load(self));
	ASSERT_STREQ("", self->err);
	ASSERT_EQ(TEXT_ADDR, self->entry);

	ASSERT_EQ(0, memcmp(self->mem + TEXT_ADDR, self->img.text,
			    sizeof(self->img.text)));
	ASSERT_EQ(0, memcmp(self->mem + DATA_ADDR, self->img.data,
			    sizeof(self->img.data)));
	/* The rest of the data segment is zero-filled ... */
	for (uint64_t i = sizeof(self->img.data); i < DATA_MEMSZ; i++)
		ASSERT_EQ(0, self->mem[DATA_ADDR + i]);
	/* ... and nothing outside the segments is written. */
	ASSERT_TRUE(mem_untouched(self->mem, 0, TEXT_ADDR));
	ASSERT_TRUE(mem_untouched(self->mem, TEXT_ADDR + sizeof(self->img.text),
				  DATA_ADDR));
	ASSERT_TRUE(mem_untouched(self->mem, DATA_ADDR + DATA_MEMSZ, MEM_SIZE));
}

TEST_F(elf, bad_magic)
{
	self->img.eh.e_ident[EI_MAG1] = 'X';
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, class32)
{
	self->img.eh.e_ident[EI_CLASS] = ELFCLASS32;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, big_endian)
{
	self->img.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, bad_version)
{
	self->img.eh.e_version = 2;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, et_dyn)
{
	self->img.eh.e_type = ET_DYN;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, et_rel)
{
	self->img.eh.e_type = ET_REL;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, wrong_machine)
{
	self->img.eh.e_machine = EM_386;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, phentsize)
{
	self->img.eh.e_phentsize = sizeof(Elf64_Phdr) - 1;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, phnum_0)
{
	self->img.eh.e_phnum = 0;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, phnum_1000)
{
	self->img.eh.e_phnum = 1000;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, phoff_past_eof)
{
	self->img.eh.e_phoff = sizeof(self->img);
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, phoff_partly_past_eof)
{
	self->img.eh.e_phoff = sizeof(self->img) - sizeof(Elf64_Phdr);
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, phoff_overflow)
{
	self->img.eh.e_phoff = UINT64_MAX - 10;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, segment_past_eof)
{
	self->img.ph[1].p_filesz = sizeof(self->img.data) + 1;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, segment_offset_overflow)
{
	self->img.ph[0].p_offset = UINT64_MAX - 4;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, filesz_gt_memsz)
{
	self->img.ph[0].p_memsz = sizeof(self->img.text) - 1;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, below_min_addr)
{
	self->img.ph[0].p_vaddr = 0x1000;
	self->img.ph[0].p_paddr = 0x1000;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, straddles_min_addr)
{
	self->img.ph[0].p_vaddr = CALLBOX_GPA_IMAGE_MIN - 8;
	self->img.ph[0].p_paddr = CALLBOX_GPA_IMAGE_MIN - 8;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, past_mem_size)
{
	self->img.ph[1].p_vaddr = MEM_SIZE - DATA_MEMSZ + 1;
	self->img.ph[1].p_paddr = MEM_SIZE - DATA_MEMSZ + 1;
	ASSERT_LOAD_FAILS(E2BIG);
}

TEST_F(elf, far_past_mem_size)
{
	self->img.ph[1].p_vaddr = 1ull << 40;
	self->img.ph[1].p_paddr = 1ull << 40;
	ASSERT_LOAD_FAILS(E2BIG);
}

TEST_F(elf, ends_at_mem_size)
{
	self->img.ph[1].p_vaddr = MEM_SIZE - DATA_MEMSZ;
	self->img.ph[1].p_paddr = MEM_SIZE - DATA_MEMSZ;
	ASSERT_EQ(0, load(self));
	ASSERT_EQ(0, self->mem[MEM_SIZE - 1]);
}

TEST_F(elf, vaddr_memsz_overflow)
{
	self->img.ph[1].p_vaddr = UINT64_MAX - 0x10;
	self->img.ph[1].p_paddr = UINT64_MAX - 0x10;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, paddr_differs)
{
	self->img.ph[1].p_paddr = DATA_ADDR + 0x1000;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, overlap)
{
	self->img.ph[1].p_vaddr = TEXT_ADDR + 8;
	self->img.ph[1].p_paddr = TEXT_ADDR + 8;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, overlap_containing)
{
	self->img.ph[1].p_vaddr = TEXT_ADDR;
	self->img.ph[1].p_paddr = TEXT_ADDR;
	self->img.ph[1].p_memsz = 0x10000;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, adjacent)
{
	/* Touching is not overlapping. */
	self->img.ph[1].p_vaddr = TEXT_ADDR + sizeof(self->img.text);
	self->img.ph[1].p_paddr = TEXT_ADDR + sizeof(self->img.text);
	ASSERT_EQ(0, load(self));
}

TEST_F(elf, entry_outside)
{
	self->img.eh.e_entry = TEXT_ADDR + 0x10000;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, entry_just_past_text)
{
	self->img.eh.e_entry = TEXT_ADDR + sizeof(self->img.text);
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, entry_not_executable)
{
	self->img.eh.e_entry = DATA_ADDR;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, entry_zero_filled)
{
	self->img.ph[0].p_memsz = 0x100;
	self->img.eh.e_entry = TEXT_ADDR + 0x80;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, pt_interp)
{
	self->img.ph[1].p_type = PT_INTERP;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, pt_dynamic)
{
	self->img.ph[1].p_type = PT_DYNAMIC;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, pt_tls)
{
	self->img.ph[1].p_type = PT_TLS;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, no_pt_load)
{
	self->img.ph[0].p_type = PT_NOTE;
	self->img.ph[1].p_type = PT_NOTE;
	ASSERT_LOAD_FAILS(ENOEXEC);
}

TEST_F(elf, other_types_ignored)
{
	/* What ld puts in every guest: PT_GNU_STACK, all zero. */
	self->img.ph[1] = (Elf64_Phdr) { .p_type = PT_GNU_STACK };
	ASSERT_EQ(0, load(self));
	ASSERT_EQ(TEXT_ADDR, self->entry);
}

TEST_F(elf, empty_load_ignored)
{
	/* An empty PT_LOAD at address 0 loads nothing, so it is harmless. */
	self->img.ph[1] = (Elf64_Phdr) {
		.p_type = PT_LOAD,
		.p_flags = PF_R | PF_W,
		.p_offset = 0xe8,
	};
	ASSERT_EQ(0, load(self));
	ASSERT_TRUE(mem_untouched(self->mem, 0, TEXT_ADDR));
}

TEST_F(elf, truncated)
{
	size_t len;

	for (len = 0; len < sizeof(self->img); len++) {
		self->err[0] = '\0';
		ASSERT_EQ(-ENOEXEC, load_bytes(self, &self->img, len)) {
			TH_LOG("length %zu loaded", len);
		}
		ASSERT_NE('\0', self->err[0]) {
			TH_LOG("length %zu: no reason given", len);
		}
		ASSERT_EQ(ENTRY_UNSET, self->entry);
	}
	ASSERT_TRUE(mem_untouched(self->mem, 0, MEM_SIZE));
}

TEST_F(elf, small_err_buffer)
{
	char err[8];
	int ret;

	self->img.eh.e_machine = EM_386;
	memset(err, 'x', sizeof(err));
	ret = callbox_elf_load(&self->img, sizeof(self->img), self->mem,
			       MEM_SIZE, CALLBOX_GPA_IMAGE_MIN, &self->entry,
			       NULL, err, sizeof(err));
	ASSERT_EQ(-ENOEXEC, ret);
	ASSERT_EQ(sizeof(err) - 1, strlen(err));

	ret = callbox_elf_load(&self->img, sizeof(self->img), self->mem,
			       MEM_SIZE, CALLBOX_GPA_IMAGE_MIN, &self->entry,
			       NULL, NULL, 0);
	ASSERT_EQ(-ENOEXEC, ret);
}

static const char *guest_path(char *buf, size_t len, const char *name)
{
	const char *dir = getenv("CALLBOX_GUEST_BUILD");

	snprintf(buf, len, "%s/%s.elf", dir ? dir : CALLBOX_GUEST_BUILD, name);
	return buf;
}

/*
 * The example guests load into the smallest memory, and the entry point
 * is the file's, with the file's bytes behind it.
 */
TEST(example_guests)
{
	static const char *const names[] = { "arith", "spin", "fault" };
	uint64_t mem_size = CALLBOX_MEM_MIN;
	unsigned char *mem = malloc(mem_size);
	char path[4096], err[256];
	unsigned int i, j;

	ASSERT_NE(NULL, mem);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const unsigned char *bytes;
		const Elf64_Phdr *ph;
		Elf64_Ehdr eh;
		uint64_t entry = ENTRY_UNSET, image_end = 0;
		bool checked = false;
		size_t size;
		void *file;

		guest_path(path, sizeof(path), names[i]);
		ASSERT_EQ(0, callbox_read_file(path, &file, &size, err,
					       sizeof(err))) {
			TH_LOG("%s (build the guests first: make -f guest/guest.mk)",
			       err);
		}
		ASSERT_GE(size, sizeof(eh));
		memcpy(&eh, file, sizeof(eh));

		memset(mem, POISON, mem_size);
		ASSERT_EQ(0, callbox_elf_load(file, size, mem, mem_size,
					      CALLBOX_GPA_IMAGE_MIN, &entry,
					      &image_end, err, sizeof(err))) {
			TH_LOG("%s: %s", path, err);
		}
		ASSERT_EQ(eh.e_entry, entry);
		ASSERT_LT(entry, image_end);
		ASSERT_GE(mem_size, image_end);
		/* Nothing was written above the image end. */
		ASSERT_TRUE(mem_untouched(mem, image_end, mem_size));
		ASSERT_TRUE(mem_untouched(mem, 0, CALLBOX_GPA_IMAGE_MIN));

		/* The loaded code at the entry point is the file's. */
		bytes = file;
		for (j = 0; j < eh.e_phnum; j++) {
			ph = (const Elf64_Phdr *)(bytes + eh.e_phoff) + j;
			if (ph->p_type != PT_LOAD || entry < ph->p_vaddr ||
			    entry - ph->p_vaddr >= ph->p_filesz)
				continue;
			ASSERT_TRUE((ph->p_flags & PF_X) != 0);
			ASSERT_EQ(0, memcmp(mem + entry,
					    bytes + ph->p_offset +
					    (entry - ph->p_vaddr), 16));
			checked = true;
		}
		ASSERT_TRUE(checked);
		free(file);
	}
	free(mem);
}

TEST(read_file_errors)
{
	char err[256];
	size_t size;
	void *buf;

	ASSERT_EQ(-ENOENT, callbox_read_file("/nonexistent/guest.elf", &buf,
					     &size, err, sizeof(err)));
	TH_LOG("err: %s", err);
	ASSERT_NE(NULL, strstr(err, "/nonexistent/guest.elf"));

	ASSERT_EQ(-EINVAL, callbox_read_file("/", &buf, &size, err,
					     sizeof(err)));
	TH_LOG("err: %s", err);
	ASSERT_NE('\0', err[0]);

	ASSERT_EQ(-EINVAL, callbox_read_file("/dev/null", &buf, &size, err,
					     sizeof(err)));
	TH_LOG("err: %s", err);
	ASSERT_NE('\0', err[0]);
}

TEST(read_file)
{
	char path[] = "/tmp/callbox-elf-test-XXXXXX";
	static const char text[] = "not an ELF file";
	uint64_t entry = ENTRY_UNSET;
	char err[256];
	size_t size;
	void *buf;
	int fd;

	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)sizeof(text), write(fd, text, sizeof(text)));
	close(fd);

	ASSERT_EQ(0, callbox_read_file(path, &buf, &size, err, sizeof(err)));
	unlink(path);
	ASSERT_EQ(sizeof(text), size);
	ASSERT_EQ(0, memcmp(buf, text, size));

	/* Reading does not judge; loading does. */
	ASSERT_EQ(-ENOEXEC, callbox_elf_load(buf, size, NULL, 0, 0, &entry,
					     NULL, err, sizeof(err)));
	TH_LOG("err: %s", err);
	free(buf);
}

TEST_HARNESS_MAIN

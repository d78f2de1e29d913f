// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Loading a guest image: a static x86-64 ELF executable whose PT_LOAD
 * segments are copied into guest memory at their addresses.
 *
 * The file comes from the user and is hostile input. Every offset, size and
 * address is checked, with overflow-checked arithmetic, before it is used,
 * and the whole file is checked before guest memory is touched. Sections
 * are never looked at: only the ELF header and the program headers matter.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The kernel's ELF definitions rather than libc's <elf.h>: with lib/ on the
 * include path, <elf.h> would find our own "elf.h".
 */
#include <linux/elf.h>

#include "elf.h"

/* More than any linker emits for a static image; bounds the work done. */
#define ELF_MAX_PHNUM	64

static int __attribute__((format(printf, 4, 5)))
elf_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Check the ELF header and copy out the program header table. */
static int elf_check_header(const unsigned char *file, size_t file_size,
			    Elf64_Ehdr *eh, Elf64_Phdr *ph, char *err,
			    size_t errlen)
{
	uint64_t table_size, table_end;

	if (file_size < sizeof(*eh))
		return elf_fail(err, errlen, -ENOEXEC,
				"file is %zu bytes, too short for an ELF header (%zu bytes)",
				file_size, sizeof(*eh));
	memcpy(eh, file, sizeof(*eh));

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return elf_fail(err, errlen, -ENOEXEC,
				"not an ELF file (bad magic)");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return elf_fail(err, errlen, -ENOEXEC,
				"not a 64-bit ELF file (EI_CLASS %u)",
				eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return elf_fail(err, errlen, -ENOEXEC,
				"not a little-endian ELF file (EI_DATA %u)",
				eh->e_ident[EI_DATA]);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT ||
	    eh->e_version != EV_CURRENT)
		return elf_fail(err, errlen, -ENOEXEC,
				"unknown ELF version %u/%u",
				eh->e_ident[EI_VERSION], eh->e_version);
	if (eh->e_type == ET_DYN)
		return elf_fail(err, errlen, -ENOEXEC,
				"ELF type ET_DYN (PIE or shared object): a guest must be a static non-PIE executable");
	if (eh->e_type != ET_EXEC)
		return elf_fail(err, errlen, -ENOEXEC,
				"ELF type %u is not an executable (ET_EXEC)",
				eh->e_type);
	if (eh->e_machine != EM_X86_64)
		return elf_fail(err, errlen, -ENOEXEC,
				"ELF machine %u is not x86-64", eh->e_machine);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return elf_fail(err, errlen, -ENOEXEC,
				"program header entry size %u, expected %zu",
				eh->e_phentsize, sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0)
		return elf_fail(err, errlen, -ENOEXEC, "no program headers");
	if (eh->e_phnum > ELF_MAX_PHNUM)
		return elf_fail(err, errlen, -ENOEXEC,
				"%u program headers, at most %u supported",
				eh->e_phnum, ELF_MAX_PHNUM);

	if (__builtin_mul_overflow((uint64_t)eh->e_phnum, eh->e_phentsize,
				   &table_size) ||
	    __builtin_add_overflow(eh->e_phoff, table_size, &table_end) ||
	    table_end > file_size)
		return elf_fail(err, errlen, -ENOEXEC,
				"program header table at offset 0x%" PRIx64 " (%u entries) lies outside the file (%zu bytes)",
				(uint64_t)eh->e_phoff, eh->e_phnum, file_size);

	memcpy(ph, file + eh->e_phoff, table_size);
	return 0;
}

/*
 * Check program header @i. PT_LOAD segments must lie in the file and in
 * guest memory; segment types that need a dynamic loader or thread-local
 * storage, which a guest does not have, are refused; other types (notes,
 * GNU_STACK, ...) do not matter and are ignored.
 */
static int elf_check_segment(const Elf64_Phdr *p, unsigned int i,
			     size_t file_size, uint64_t mem_size,
			     uint64_t min_addr, char *err, size_t errlen)
{
	uint64_t file_end, end;

	switch (p->p_type) {
	case PT_LOAD:
		break;
	case PT_INTERP:
	case PT_DYNAMIC:
		return elf_fail(err, errlen, -ENOEXEC,
				"segment %u is %s: the file is dynamically linked, a guest must be linked -static",
				i, p->p_type == PT_INTERP ? "PT_INTERP" : "PT_DYNAMIC");
	case PT_TLS:
		return elf_fail(err, errlen, -ENOEXEC,
				"segment %u is PT_TLS: thread-local storage is not supported in a guest",
				i);
	default:
		return 0;
	}

	if (p->p_filesz > p->p_memsz)
		return elf_fail(err, errlen, -ENOEXEC,
				"segment %u: file size 0x%" PRIx64 " exceeds memory size 0x%" PRIx64,
				i, (uint64_t)p->p_filesz, (uint64_t)p->p_memsz);
	/* An empty segment loads nothing; ld can emit one at address 0. */
	if (!p->p_memsz)
		return 0;

	if (__builtin_add_overflow(p->p_offset, p->p_filesz, &file_end) ||
	    file_end > file_size)
		return elf_fail(err, errlen, -ENOEXEC,
				"segment %u: file bytes at offset 0x%" PRIx64 " (size 0x%" PRIx64 ") lie outside the file (%zu bytes)",
				i, (uint64_t)p->p_offset, (uint64_t)p->p_filesz,
				file_size);

	/* The guest runs identity mapped: where it is linked is where it is. */
	if (p->p_paddr != p->p_vaddr)
		return elf_fail(err, errlen, -ENOEXEC,
				"segment %u: physical address 0x%" PRIx64 " differs from virtual address 0x%" PRIx64 " (guest memory is identity mapped)",
				i, (uint64_t)p->p_paddr, (uint64_t)p->p_vaddr);

	if (__builtin_add_overflow(p->p_vaddr, p->p_memsz, &end))
		return elf_fail(err, errlen, -ENOEXEC,
				"segment %u: address 0x%" PRIx64 " + size 0x%" PRIx64 " overflows",
				i, (uint64_t)p->p_vaddr, (uint64_t)p->p_memsz);
	if (p->p_vaddr < min_addr)
		return elf_fail(err, errlen, -ENOEXEC,
				"segment %u [0x%" PRIx64 "-0x%" PRIx64 ") lies below 0x%" PRIx64 " (host-reserved memory)",
				i, (uint64_t)p->p_vaddr, end, min_addr);
	if (end > mem_size)
		return elf_fail(err, errlen, -E2BIG,
				"segment %u [0x%" PRIx64 "-0x%" PRIx64 ") does not fit in 0x%" PRIx64 " bytes of guest memory",
				i, (uint64_t)p->p_vaddr, end, mem_size);
	return 0;
}

static bool elf_loadable(const Elf64_Phdr *p)
{
	return p->p_type == PT_LOAD && p->p_memsz;
}

/* Checked segments only: vaddr + memsz does not overflow. */
static bool elf_overlap(const Elf64_Phdr *a, const Elf64_Phdr *b)
{
	return a->p_vaddr < b->p_vaddr + b->p_memsz &&
	       b->p_vaddr < a->p_vaddr + a->p_memsz;
}

/*
 * The entry point must be code from the file: inside the file-backed part
 * of an executable segment, not in its zero-filled tail.
 */
static int elf_check_entry(const Elf64_Ehdr *eh, const Elf64_Phdr *ph,
			   char *err, size_t errlen)
{
	uint64_t entry = eh->e_entry;
	const Elf64_Phdr *p;
	unsigned int i;

	for (i = 0; i < eh->e_phnum; i++) {
		p = &ph[i];
		if (!elf_loadable(p) || entry < p->p_vaddr ||
		    entry - p->p_vaddr >= p->p_memsz)
			continue;

		if (!(p->p_flags & PF_X))
			return elf_fail(err, errlen, -ENOEXEC,
					"entry point 0x%" PRIx64 " is in segment %u, which is not executable",
					entry, i);
		if (entry - p->p_vaddr >= p->p_filesz)
			return elf_fail(err, errlen, -ENOEXEC,
					"entry point 0x%" PRIx64 " is in the zero-filled part of segment %u",
					entry, i);
		return 0;
	}
	return elf_fail(err, errlen, -ENOEXEC,
			"entry point 0x%" PRIx64 " is not inside any loadable segment",
			entry);
}

int callbox_elf_load(const void *file, size_t file_size, void *mem,
		     uint64_t mem_size, uint64_t min_addr, uint64_t *entry,
		     uint64_t *image_end, char *err, size_t errlen)
{
	uint64_t end = 0;
	Elf64_Phdr ph[ELF_MAX_PHNUM];
	unsigned int i, j, nload = 0;
	const Elf64_Phdr *p;
	unsigned char *dst;
	Elf64_Ehdr eh;
	int ret;

	if (errlen)
		err[0] = '\0';

	ret = elf_check_header(file, file_size, &eh, ph, err, errlen);
	if (ret)
		return ret;

	for (i = 0; i < eh.e_phnum; i++) {
		ret = elf_check_segment(&ph[i], i, file_size, mem_size,
					min_addr, err, errlen);
		if (ret)
			return ret;
		if (elf_loadable(&ph[i]))
			nload++;
	}
	if (!nload)
		return elf_fail(err, errlen, -ENOEXEC,
				"no loadable (PT_LOAD) segment");

	for (i = 0; i < eh.e_phnum; i++) {
		if (!elf_loadable(&ph[i]))
			continue;
		for (j = i + 1; j < eh.e_phnum; j++) {
			if (!elf_loadable(&ph[j]) || !elf_overlap(&ph[i], &ph[j]))
				continue;
			return elf_fail(err, errlen, -ENOEXEC,
					"segments %u [0x%" PRIx64 "-0x%" PRIx64 ") and %u [0x%" PRIx64 "-0x%" PRIx64 ") overlap",
					i, (uint64_t)ph[i].p_vaddr,
					(uint64_t)(ph[i].p_vaddr + ph[i].p_memsz),
					j, (uint64_t)ph[j].p_vaddr,
					(uint64_t)(ph[j].p_vaddr + ph[j].p_memsz));
		}
	}

	ret = elf_check_entry(&eh, ph, err, errlen);
	if (ret)
		return ret;

	/* Everything checked: now, and only now, write guest memory. */
	for (i = 0; i < eh.e_phnum; i++) {
		p = &ph[i];
		if (!elf_loadable(p))
			continue;
		dst = (unsigned char *)mem + p->p_vaddr;
		memcpy(dst, (const unsigned char *)file + p->p_offset,
		       p->p_filesz);
		memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
		if (p->p_vaddr + p->p_memsz > end)
			end = p->p_vaddr + p->p_memsz;
	}

	*entry = eh.e_entry;
	if (image_end)
		*image_end = end;
	return 0;
}

int callbox_read_file(const char *path, void **buf, size_t *size, char *err,
		      size_t errlen)
{
	size_t len, done = 0;
	unsigned char *data;
	struct stat st;
	ssize_t n;
	int fd, ret;

	if (errlen)
		err[0] = '\0';

	/* O_NONBLOCK: a FIFO must be refused below, not block open(). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		return elf_fail(err, errlen, ret, "%s: %s", path,
				strerror(-ret));
	}

	if (fstat(fd, &st)) {
		ret = -errno;
		elf_fail(err, errlen, ret, "%s: stat: %s", path,
			 strerror(-ret));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = elf_fail(err, errlen, -EINVAL,
			       "%s: not a regular file", path);
		goto out_close;
	}
	if ((uint64_t)st.st_size > CALLBOX_FILE_MAX) {
		ret = elf_fail(err, errlen, -EFBIG,
			       "%s: %jd bytes, larger than the limit of %llu",
			       path, (intmax_t)st.st_size, CALLBOX_FILE_MAX);
		goto out_close;
	}

	len = st.st_size;
	data = malloc(len ? len : 1);
	if (!data) {
		ret = elf_fail(err, errlen, -ENOMEM,
			       "%s: cannot allocate %zu bytes", path, len);
		goto out_close;
	}

	while (done < len) {
		n = read(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			elf_fail(err, errlen, ret, "%s: read: %s", path,
				 strerror(-ret));
			goto out_free;
		}
		if (n == 0) {
			ret = elf_fail(err, errlen, -EIO,
				       "%s: file shrank while being read", path);
			goto out_free;
		}
		done += n;
	}

	close(fd);
	*buf = data;
	*size = len;
	return 0;

out_free:
	free(data);
out_close:
	close(fd);
	return ret;
}

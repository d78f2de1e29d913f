/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/* libcallbox internal: reading a guest image and loading it into memory. */
#ifndef CALLBOX_ELF_H
#define CALLBOX_ELF_H

#include <stddef.h>
#include <stdint.h>

/* The largest guest image file callbox_read_file() accepts. */
#define CALLBOX_FILE_MAX	(1ull << 30)

/**
 * callbox_elf_load() - load a static x86-64 ELF executable into guest memory
 * @file: the ELF file's bytes; hostile input, every field is checked
 * @file_size: its size
 * @mem: guest memory, guest-physical 0 at @mem
 * @mem_size: its size
 * @min_addr: the lowest address a segment may occupy; below it is the host's
 * @entry: output: the entry point, on success
 * @image_end: output, may be NULL: the end of the highest segment in memory
 * @err: output: a one-line reason on failure, always NUL-terminated (may be
 *	NULL if @errlen is 0)
 * @errlen: the size of @err
 *
 * Guest memory is identity mapped, so each PT_LOAD segment goes to its
 * p_vaddr, and p_paddr must equal it. The whole file is checked before any
 * byte of @mem is written, so a failed load leaves guest memory untouched.
 *
 * Return: 0, -ENOEXEC if the file is malformed or not a static x86-64
 * executable, or -E2BIG if a segment ends beyond @mem_size.
 */
int callbox_elf_load(const void *file, size_t file_size, void *mem,
		     uint64_t mem_size, uint64_t min_addr, uint64_t *entry,
		     uint64_t *image_end, char *err, size_t errlen);

/**
 * callbox_read_file() - read a whole regular file into a new buffer
 * @path: the file
 * @buf: output: the contents, to be released with free()
 * @size: output: their size
 * @err: output: a one-line reason on failure, always NUL-terminated (may be
 *	NULL if @errlen is 0)
 * @errlen: the size of @err
 *
 * Return: 0 or -errno: that of open(), fstat() or read(), -EINVAL if @path
 * is not a regular file, -EFBIG if it is larger than CALLBOX_FILE_MAX,
 * -EIO if it shrank while being read, -ENOMEM.
 */
int callbox_read_file(const char *path, void **buf, size_t *size, char *err,
		      size_t errlen);

#endif /* CALLBOX_ELF_H */

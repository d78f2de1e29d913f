/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/* libcallbox internal: the host-owned part of guest memory. */
#ifndef CALLBOX_LAYOUT_H
#define CALLBOX_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

/**
 * callbox_layout_check() - validate a guest memory and stack size
 * @mem_size: the memory size
 * @stack_size: the stack size
 * @err: output: a one-line reason on failure, always NUL-terminated (may be
 *	NULL if @errlen is 0)
 * @errlen: the size of @err
 *
 * Return: 0 if @mem_size is a multiple of CALLBOX_MEM_ALIGN within
 * [CALLBOX_MEM_MIN, CALLBOX_MEM_MAX], @stack_size a multiple of 4 KiB
 * within [CALLBOX_STACK_MIN, CALLBOX_STACK_MAX], and there is room for an
 * image between CALLBOX_GPA_IMAGE_MIN and the stack's guard page; else
 * -EINVAL.
 */
int callbox_layout_check(uint64_t mem_size, uint64_t stack_size, char *err,
			 size_t errlen);

/**
 * callbox_layout_build() - write the host-owned structures into guest memory
 * @mem: guest memory, guest-physical 0 at @mem
 * @mem_size: its size, which callbox_layout_check() accepted
 * @stack_size: the stack's size, which callbox_layout_check() accepted
 *
 * Zeroes everything below CALLBOX_GPA_IMAGE_MIN, then writes the GDT with
 * its TSS, page tables that identity map [0, @mem_size) except page 0 and
 * the stack's guard page, and the mailbox's boot fields (magic, version,
 * mem_size, nr_slots, stack_size). Memory at and above
 * CALLBOX_GPA_IMAGE_MIN is not touched.
 *
 * The vCPU state that goes with it: CR3 = CALLBOX_GPA_PML4, CR4.PAE,
 * EFER.LME|LMA (no NXE: no entry sets NX), CR0.PG|PE,
 * GDTR = { CALLBOX_GPA_GDT, CALLBOX_GDT_ENTRIES * 8 - 1 }, TR = CALLBOX_SEL_TSS, CS = CALLBOX_SEL_CODE (64-bit
 * code, type 11), the data segments = CALLBOX_SEL_DATA (type 3).
 */
void callbox_layout_build(void *mem, uint64_t mem_size, uint64_t stack_size);

#endif /* CALLBOX_LAYOUT_H */

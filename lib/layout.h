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
 * struct callbox_layout - what a guest's host-owned memory is built from
 * @mem_size: guest memory, accepted by callbox_layout_check()
 * @stack_size: the stack, accepted by callbox_layout_check()
 * @heap_size: the most the guest's heap may take, 0 for all there is
 * @io_base: where the I/O area starts
 * @nr_slots: the calls that may be outstanding at once
 * @input_size: each I/O input buffer's size
 * @output_size: each I/O output buffer's size
 * @log_level: the most verbose guest log level the host wants
 */
struct callbox_layout {
	uint64_t mem_size;
	uint64_t stack_size;
	uint64_t heap_size;
	uint64_t io_base;
	uint32_t nr_slots;
	uint32_t input_size;
	uint32_t output_size;
	uint32_t log_level;
};

/**
 * callbox_layout_build() - write the host-owned structures into guest memory
 * @mem: guest memory, guest-physical 0 at @mem
 * @layout: what to build
 *
 * Zeroes everything below CALLBOX_GPA_IMAGE_MIN, then writes the GDT with
 * its TSS, page tables that identity map [0, @layout->mem_size) except
 * page 0 and the stack's guard page, and the mailbox's boot fields. Memory
 * at and above CALLBOX_GPA_IMAGE_MIN is not touched.
 */
void callbox_layout_build(void *mem, const struct callbox_layout *layout);

struct kvm_sregs;

/**
 * callbox_layout_sregs() - the vCPU state that goes with the layout
 * @sregs: the vCPU's special registers, as KVM_GET_SREGS gave them
 *
 * Sets what the GDT, the TSS and the page tables of callbox_layout_build()
 * need, from the same descriptors: CS = CALLBOX_SEL_CODE (64-bit code),
 * the data segments = CALLBOX_SEL_DATA, TR = CALLBOX_SEL_TSS (busy), GDTR,
 * CR3 = CALLBOX_GPA_PML4, and CR0, CR4 and EFER for long mode with SSE.
 */
void callbox_layout_sregs(struct kvm_sregs *sregs);

#endif /* CALLBOX_LAYOUT_H */

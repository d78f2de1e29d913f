/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/* libcallbox internal: a KVM VM with one 64-bit vCPU. */
#ifndef CALLBOX_VM_H
#define CALLBOX_VM_H

#include <stddef.h>
#include <stdint.h>

#include "dirty_log.h"
#include "vcpu_state.h"

struct kvm_run;

/**
 * struct callbox_vm - the KVM objects behind a sandbox
 * @kvm_fd: /dev/kvm
 * @vm_fd: the VM
 * @vcpu_fd: its only vCPU
 * @mem: guest memory, mapped at guest-physical 0
 * @mem_size: its size
 * @run: the vCPU's kvm_run page, mapped
 * @run_size: its mapping's size
 * @boot_state: the vCPU's state as KVM created it, which every boot puts
 *	back before it sets the registers of the layout
 * @log: KVM's log of the pages the guest writes, which
 *	callbox_vm_dirty_pages() collects into @log.dirty
 */
struct callbox_vm {
	int kvm_fd;
	int vm_fd;
	int vcpu_fd;
	void *mem;
	uint64_t mem_size;
	struct kvm_run *run;
	size_t run_size;
	struct callbox_vcpu_state boot_state;
	struct callbox_dirty_log log;
};

/* KVM's dirty log has a bit for each 4 KiB page of guest memory. */
#define CALLBOX_VM_PAGE_SIZE	4096u

/* The 64-bit words of a bitmap with a bit for each page of @mem_size. */
static inline size_t callbox_vm_dirty_words(uint64_t mem_size)
{
	return (mem_size / CALLBOX_VM_PAGE_SIZE + 63) / 64;
}

/* The state of a VM not created yet (or destroyed): no fds, no memory. */
static inline void callbox_vm_init(struct callbox_vm *vm)
{
	*vm = (struct callbox_vm) { .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1 };
}

/*
 * Create the VM, its memory and its vCPU: memory of zeroes if @mem_fd is
 * -1, else a copy-on-write mapping of the file @mem_fd (a clone's
 * template). -errno and a message on error.
 */
int callbox_vm_create(struct callbox_vm *vm, uint64_t mem_size, int mem_fd,
		      char *err, size_t errlen);

/*
 * Put the vCPU back in the state KVM created it in, then in 64-bit long
 * mode at @entry with the stack at the top of memory. Guest memory must
 * already hold the GDT and page tables.
 */
int callbox_vm_boot_regs(struct callbox_vm *vm, uint64_t entry, char *err,
			 size_t errlen);

/*
 * Let KVM finish the I/O or MMIO exit the vCPU last stopped at, without
 * entering the guest (KVM_RUN with immediate_exit), so that nothing of it
 * is replayed onto registers restored afterwards.
 */
int callbox_vm_flush_exit(struct callbox_vm *vm, char *err, size_t errlen);

/*
 * The pages of guest memory that guest code (or KVM for it) may have
 * written since the VM was created or since the last call, in
 * @vm->log.dirty: bit N of word N / 64 for the page at N * 4096 (see
 * dirty_log.c). Writes through @vm->mem from this process are not seen.
 * -errno and a message on error.
 */
int callbox_vm_dirty_pages(struct callbox_vm *vm, char *err, size_t errlen);

/* Close everything; safe on a partly created or destroyed VM. */
void callbox_vm_destroy(struct callbox_vm *vm);

#endif /* CALLBOX_VM_H */

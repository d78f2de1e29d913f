/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A raw KVM guest of a few bytes, driven through callbox's ioctls with no
 * libcallbox involved: the kernel ABI tests use it, and the benchmark
 * measures the KVM_RUN floor with it. Functions return 0 or -errno.
 */
#ifndef CALLBOX_RAW_GUEST_H
#define CALLBOX_RAW_GUEST_H

#include <stddef.h>
#include <stdint.h>

struct kvm_run;

/* A bare KVM VM with one vCPU. */
struct raw_vm {
	int kvm_fd;
	int vm_fd;
	int vcpu_fd;
};

int raw_vm_create(struct raw_vm *vm);
void raw_vm_destroy(struct raw_vm *vm);

/* Real mode: the guest's memory, its code, and the init a reset runs. */
#define RAW_GUEST_MEM_SIZE	0x10000
#define RAW_GUEST_CODE		0x1000
#define RAW_GUEST_INIT		0x0f00

/*
 * The init a reset runs (CALLBOX_SANDBOX_RESET's init call), at
 * RAW_GUEST_INIT: like a real guest's boot, it ends with DONE at the call
 * boundary, then goes on into the guest's code when the next call enters.
 *
 *	mov  dx, CALLBOX_PORT_DONE
 *	out  dx, eax
 *	jmp  RAW_GUEST_CODE
 */
extern const uint8_t raw_guest_init[8];

/*
 * A guest that counts calls: each CALLBOX_PORT_DONE reports the number of
 * the call.
 *
 *	xor  eax, eax
 *   1:	mov  dx, CALLBOX_PORT_DONE
 *	inc  eax
 *	out  dx, eax
 *	jmp  1b
 */
extern const uint8_t raw_guest_counter[12];

/*
 * A guest whose every CALLBOX_PORT_DONE comes after RAW_GUEST_CPUID_EXITS
 * CPUIDs. KVM intercepts CPUID and answers it in the kernel, so each is a
 * VM exit that never returns to userspace.
 *
 *   1:	mov  si, RAW_GUEST_CPUID_EXITS
 *   2:	xor  eax, eax
 *	cpuid
 *	dec  si
 *	jnz  2b
 *	mov  dx, CALLBOX_PORT_DONE
 *	out  dx, eax
 *	jmp  1b
 */
#define RAW_GUEST_CPUID_EXITS	32
extern const uint8_t raw_guest_cpuid[18];

struct raw_guest {
	struct raw_vm vm;
	void *mem;
};

/* A raw guest running @code, in a VM of its own. */
int raw_guest_create(struct raw_guest *g, const uint8_t *code,
		     size_t code_len);

/*
 * Set up a raw guest in the VM @vm_fd of @kvm_fd (both taken over), for
 * callers that need the VM configured before its vCPU exists.
 */
int raw_guest_setup(struct raw_guest *g, int kvm_fd, int vm_fd,
		    const uint8_t *code, size_t code_len);

void raw_guest_destroy(struct raw_guest *g);

/* Map the vCPU's kvm_run page; MAP_FAILED on error, its size in @size. */
struct kvm_run *raw_guest_map_run(struct raw_guest *g, size_t *size);

/*
 * Put a raw guest back at its init (RAW_GUEST_INIT), as a runner does to
 * recover a poisoned sandbox: let KVM finish the exit it stopped at
 * (KVM_RUN with immediate_exit, through the vCPU's mapped kvm_run @run),
 * set the registers, and issue CALLBOX_SANDBOX_RESET. The init call's id
 * goes to *@init_id; the sandbox runs nothing else until it has exited.
 */
int raw_guest_rewind(struct raw_guest *g, struct kvm_run *run,
		     int sandbox_fd, uint64_t *init_id);

/*
 * Restore a raw guest to the state its init leaves (its registers at
 * RAW_GUEST_CODE; its memory is the caller's to put back), fenced by
 * CALLBOX_SANDBOX_RESTORE: BEGIN, the registers, then COMMIT (ABANDON if
 * setting them failed). Runs nothing; lifts the poison.
 */
int raw_guest_restore(struct raw_guest *g, struct kvm_run *run,
		      int sandbox_fd);

/*
 * Recover a raw guest whose sandbox @sandbox_fd is poisoned: rewind it,
 * then run its init call to its DONE and consume it. An init call that
 * does not exit (cancelled by another thread, say) leaves the sandbox
 * poisoned, so try again, a bounded number of times.
 */
int raw_guest_reset(struct raw_guest *g, struct kvm_run *run, int sandbox_fd);

#endif /* CALLBOX_RAW_GUEST_H */

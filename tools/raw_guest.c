// SPDX-License-Identifier: GPL-2.0
/*
 * A raw KVM guest of a few bytes, driven through callbox's ioctls with no
 * libcallbox involved; see raw_guest.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/callbox.h>
#include <linux/kvm.h>

#include "raw_guest.h"

int raw_vm_create(struct raw_vm *vm)
{
	*vm = (struct raw_vm) { -1, -1, -1 };
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return -errno;
	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		return -errno;
	return 0;
}

void raw_vm_destroy(struct raw_vm *vm)
{
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	*vm = (struct raw_vm) { -1, -1, -1 };
}

const uint8_t raw_guest_init[8] = {
	0xba, 0x00, 0xcb,		/* mov dx, 0xcb00 */
	0x66, 0xef,			/* out dx, eax */
	0xe9, 0xf8, 0x00,		/* jmp 0x1000 (0x0f08 + 0xf8) */
};

const uint8_t raw_guest_counter[12] = {
	0x66, 0x31, 0xc0,		/* xor eax, eax */
	0xba, 0x00, 0xcb,		/* mov dx, 0xcb00 */
	0x66, 0x40,			/* inc eax */
	0x66, 0xef,			/* out dx, eax */
	0xeb, 0xf7,			/* jmp to mov dx */
};

const uint8_t raw_guest_cpuid[18] = {
	0xbe, RAW_GUEST_CPUID_EXITS, 0x00,	/* mov si, EXITS */
	0x66, 0x31, 0xc0,		/* xor eax, eax */
	0x0f, 0xa2,			/* cpuid */
	0x4e,				/* dec si */
	0x75, 0xf8,			/* jnz to xor */
	0xba, 0x00, 0xcb,		/* mov dx, 0xcb00 */
	0x66, 0xef,			/* out dx, eax */
	0xeb, 0xee,			/* jmp to mov si */
};

int raw_guest_setup(struct raw_guest *g, int kvm_fd, int vm_fd,
		    const uint8_t *code, size_t code_len)
{
	struct kvm_userspace_memory_region region = {
		.memory_size = RAW_GUEST_MEM_SIZE,
	};
	struct kvm_regs regs = {
		.rip = RAW_GUEST_CODE,
		.rflags = 2,
	};
	struct kvm_sregs sregs;

	g->vm = (struct raw_vm) { kvm_fd, vm_fd, -1 };
	g->mem = mmap(NULL, RAW_GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->mem == MAP_FAILED)
		return -errno;
	if (code_len > RAW_GUEST_MEM_SIZE - RAW_GUEST_CODE)
		return -E2BIG;
	memcpy((uint8_t *)g->mem + RAW_GUEST_INIT, raw_guest_init,
	       sizeof(raw_guest_init));
	memcpy((uint8_t *)g->mem + RAW_GUEST_CODE, code, code_len);
	region.userspace_addr = (uintptr_t)g->mem;
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region))
		return -errno;
	g->vm.vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (g->vm.vcpu_fd < 0 || ioctl(g->vm.vcpu_fd, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(g->vm.vcpu_fd, KVM_SET_SREGS, &sregs) ||
	    ioctl(g->vm.vcpu_fd, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}

int raw_guest_create(struct raw_guest *g, const uint8_t *code,
		     size_t code_len)
{
	int kvm_fd, vm_fd;

	g->vm = (struct raw_vm) { -1, -1, -1 };
	g->mem = MAP_FAILED;
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		return -errno;
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0) {
		close(kvm_fd);
		return -errno;
	}
	return raw_guest_setup(g, kvm_fd, vm_fd, code, code_len);
}

void raw_guest_destroy(struct raw_guest *g)
{
	raw_vm_destroy(&g->vm);
	if (g->mem != MAP_FAILED)
		munmap(g->mem, RAW_GUEST_MEM_SIZE);
	g->mem = MAP_FAILED;
}

struct kvm_run *raw_guest_map_run(struct raw_guest *g, size_t *size)
{
	long len = ioctl(g->vm.kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);

	if (len <= 0)
		return MAP_FAILED;
	*size = len;
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		    g->vm.vcpu_fd, 0);
}

/*
 * Stop the vCPU at @rip, ready to run: what a reset (at RAW_GUEST_INIT)
 * and a restore (at RAW_GUEST_CODE, as once the init's DONE is behind)
 * both put back.
 */
static int raw_guest_set_entry(struct raw_guest *g, struct kvm_run *run,
			       uint64_t rip)
{
	struct kvm_regs regs = { .rip = rip, .rflags = 2 };
	struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_sregs sregs;
	int ret, err;

	/*
	 * KVM finishes an exit to userspace (say the OUT of the last DONE)
	 * in the next KVM_RUN, which would move rip past whatever we set. A
	 * KVM_RUN with immediate_exit finishes it and returns EINTR at once.
	 */
	run->immediate_exit = 1;
	ret = ioctl(g->vm.vcpu_fd, KVM_RUN, 0);
	err = errno;
	run->immediate_exit = 0;
	if (ret != -1 || err != EINTR)
		return ret ? -err : -EPROTO;
	/*
	 * A guest stopped in HLT (with the in-kernel irqchip) stays halted:
	 * KVM leaves the activity state alone when a kick, not an event,
	 * woke the vCPU, and the init call would sleep in HLT for ever.
	 */
	if (ioctl(g->vm.vcpu_fd, KVM_SET_MP_STATE, &runnable) ||
	    ioctl(g->vm.vcpu_fd, KVM_GET_SREGS, &sregs))
		return -errno;
	/*
	 * As at setup: a triple fault (KVM_EXIT_SHUTDOWN) leaves the vCPU
	 * as after a CPU reset, with code at 0xffff0000, and a guest may
	 * have loaded an IDT of its own.
	 */
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.idt.base = 0;
	sregs.idt.limit = 0x3ff;
	if (ioctl(g->vm.vcpu_fd, KVM_SET_SREGS, &sregs) ||
	    ioctl(g->vm.vcpu_fd, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}

int raw_guest_rewind(struct raw_guest *g, struct kvm_run *run,
		     int sandbox_fd, uint64_t *init_id)
{
	struct callbox_sandbox_reset cmd = { .size = sizeof(cmd) };
	int ret;

	ret = raw_guest_set_entry(g, run, RAW_GUEST_INIT);
	if (ret)
		return ret;
	if (ioctl(sandbox_fd, CALLBOX_SANDBOX_RESET, &cmd))
		return -errno;
	*init_id = cmd.out_id;
	return 0;
}

static int raw_guest_restore_step(int sandbox_fd, uint32_t op, uint64_t *id)
{
	struct callbox_sandbox_restore cmd = {
		.size = sizeof(cmd),
		.op = op,
		.id = *id,
	};

	if (ioctl(sandbox_fd, CALLBOX_SANDBOX_RESTORE, &cmd))
		return -errno;
	*id = cmd.id;
	return 0;	/* poisoned or not, a restore lifts it */
}

int raw_guest_restore(struct raw_guest *g, struct kvm_run *run,
		      int sandbox_fd)
{
	uint64_t id = 0;
	int ret;

	ret = raw_guest_restore_step(sandbox_fd, CALLBOX_RESTORE_BEGIN, &id);
	if (ret)
		return ret;
	ret = raw_guest_set_entry(g, run, RAW_GUEST_CODE);
	if (ret) {
		raw_guest_restore_step(sandbox_fd, CALLBOX_RESTORE_ABANDON, &id);
		return ret;
	}
	return raw_guest_restore_step(sandbox_fd, CALLBOX_RESTORE_COMMIT, &id);
}

int raw_guest_reset(struct raw_guest *g, struct kvm_run *run, int sandbox_fd)
{
	int tries, ret = -EPROTO;

	for (tries = 0; tries < 100 && ret == -EPROTO; tries++) {
		struct callbox_call_run run_cmd = { .size = sizeof(run_cmd) };
		struct callbox_call_wait wait_cmd = { .size = sizeof(wait_cmd) };
		uint64_t id = 0;

		ret = raw_guest_rewind(g, run, sandbox_fd, &id);
		if (ret)
			return ret;
		run_cmd.id = id;
		wait_cmd.id = id;
		if (ioctl(sandbox_fd, CALLBOX_CALL_RUN, &run_cmd) ||
		    ioctl(sandbox_fd, CALLBOX_CALL_WAIT, &wait_cmd))
			return -errno;
		ret = wait_cmd.out.state == CALLBOX_STATE_EXITED ? 0 : -EPROTO;
	}
	return ret;
}

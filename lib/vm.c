// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: create a KVM VM with one vCPU in 64-bit long mode, set up
 * for the memory layout of callbox/abi.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#include <callbox/abi.h>

#include "kvm_ioctl.h"
#include "layout.h"
#include "vm.h"

#define X86_RFLAGS_FIXED (1ull << 1)

/* Where KVM may put its real-mode TSS on Intel; unused in long mode. */
#define CALLBOX_TSS_ADDR 0xfffbd000ul

#define CPUID_1_ECX_VMX		(1u << 5)
#define CPUID_7_ECX_PKU		(1u << 3)
#define CPUID_7_ECX_OSPKE	(1u << 4)
#define CPUID_80000001_ECX_SVM	(1u << 2)
#define CPUID_80000001_ECX_PERFCTR_CORE	(1u << 23)

/* KVM's own leaves: its signature and its paravirtual features. */
#define CPUID_HYPERVISOR_FIRST	0x40000000u
#define CPUID_HYPERVISOR_LAST	0x4fffffffu

/*
 * The guest's CPUID is what KVM supports (it needs at least long mode),
 * less KVM's paravirtual leaves: the guest needs none of those features,
 * and each is state that one request could leave for the next (a guest
 * that turned steal time on had KVM write into its memory on every entry,
 * after a reset too). With the leaves gone and
 * KVM_CAP_ENFORCE_PV_FEATURE_CPUID on, writing their MSRs faults; and
 * without Hyper-V's signature there, KVM keeps its Hyper-V emulation off
 * for the guest, whose writes to those MSRs fault too (it could otherwise
 * enable a hypercall page, a TSC page or a SynIC). (The MSR filter of
 * vcpu_state.c faults the guest's writes to them as well.)
 */
static int vm_set_cpuid(struct callbox_vm *vm, char *err, size_t errlen)
{
	struct kvm_enable_cap enforce_pv = {
		.cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID,
		.args = { 1 },
	};
	struct kvm_cpuid2 *cpuid;
	__u32 i, kept;
	int nent = 64;
	int ret;

	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) +
				  nent * sizeof(struct kvm_cpuid_entry2));
		if (!cpuid)
			return kvm_fail(err, errlen, -ENOMEM, "cpuid");
		cpuid->nent = nent;
		ret = kvm_ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid);
		if (ret != -E2BIG || nent >= 4096)
			break;
		free(cpuid);
		nent *= 2;
	}
	if (ret < 0) {
		free(cpuid);
		return kvm_fail(err, errlen, ret, "KVM_GET_SUPPORTED_CPUID");
	}
	for (i = 0, kept = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function >= CPUID_HYPERVISOR_FIRST &&
		    e->function <= CPUID_HYPERVISOR_LAST)
			continue;
		/*
		 * No VMX or SVM either: a guest that turned either on would
		 * hold state the library neither saves nor can take back
		 * (with VMXON, KVM refuses the CR4 of every later boot).
		 */
		if (e->function == 1)
			e->ecx &= ~CPUID_1_ECX_VMX;
		/*
		 * No protection keys: with CR4.PKE a guest could set PKRU,
		 * which KVM leaves as it is when an XSAVE image marks it in
		 * its initial state, so it outlived a reset. Without PKU,
		 * KVM refuses CR4.PKE and WRPKRU raises #UD.
		 */
		if (e->function == 7 && e->index == 0)
			e->ecx &= ~(CPUID_7_ECX_PKU | CPUID_7_ECX_OSPKE);
		if (e->function == 0x80000001)
			e->ecx &= ~(CPUID_80000001_ECX_SVM |
				    CPUID_80000001_ECX_PERFCTR_CORE);
		cpuid->entries[kept++] = *e;
	}
	cpuid->nent = kept;
	ret = kvm_ioctl(vm->vcpu_fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_CPUID2");
	ret = kvm_ioctl(vm->vcpu_fd, KVM_ENABLE_CAP, &enforce_pv);
	if (ret < 0)
		return kvm_fail(err, errlen, ret,
			       "KVM_ENABLE_CAP(KVM_CAP_ENFORCE_PV_FEATURE_CPUID)");
	return 0;
}

/*
 * No PMU (performance counters). The guest needs none, and KVM would
 * account every instruction it emulates to them; their MSRs are out of
 * the guest's reach anyway (vcpu_state.c's MSR filter). On the kernels
 * callbox builds for (6.1 and later: kmod/Kbuild), KVM offers this
 * capability whenever it has a PMU to give, so one that does not offer it
 * has none. (Before 5.18 it had a PMU and no way to withhold it.)
 */
static int vm_disable_pmu(struct callbox_vm *vm, char *err, size_t errlen)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_PMU_CAPABILITY,
		.args = { KVM_PMU_CAP_DISABLE },
	};
	int ret;

	ret = kvm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
			(void *)KVM_CAP_PMU_CAPABILITY);
	if (ret <= 0)
		return 0;
	ret = kvm_ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
	if (ret < 0)
		return kvm_fail(err, errlen, ret,
				"KVM_ENABLE_CAP(KVM_CAP_PMU_CAPABILITY)");
	return 0;
}

int callbox_vm_boot_regs(struct callbox_vm *vm, uint64_t entry, char *err,
			 size_t errlen)
{
	struct kvm_vcpu_events events;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	/* Every piece of state a guest can change, as KVM created it. */
	ret = callbox_vcpu_state_load(vm->vcpu_fd, vm->run, false,
				      &vm->boot_state, false, err, errlen);
	if (ret < 0)
		return ret;

	sregs = vm->boot_state.sregs;
	callbox_layout_sregs(&sregs);
	ret = kvm_ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_SREGS (long mode)");

	/*
	 * No exception, interrupt or NMI left injected or pending: a call
	 * stopped while KVM delivered one (a deadline during a page fault)
	 * would have the init call take it at its first instruction.
	 */
	memset(&events, 0, sizeof(events));
	ret = kvm_ioctl(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &events);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_VCPU_EVENTS");

	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rsp = vm->mem_size;
	regs.rflags = X86_RFLAGS_FIXED;
	ret = kvm_ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_REGS");
	return 0;
}

/*
 * Does KVM map guest memory with nested paging (AMD's NPT, Intel's EPT)?
 * A reset or a restore puts the guest's page tables back behind KVM's
 * back, then has KVM reset the vCPU's MMU context. With nested paging
 * that drops every translation the guest held. With shadow paging it does
 * not: KVM keeps the shadow pages it built from the tables as they were,
 * finds them again, and a request's remapping outlives the restore
 * (shown with kvm_amd.npt=0: a page directory entry a request pointed
 * elsewhere kept its effect). So a sandbox refuses to start there. Where
 * neither parameter exists, KVM is taken at its word.
 */
static int vm_check_nested_paging(char *err, size_t errlen)
{
	static const char *const params[] = {
		"/sys/module/kvm_amd/parameters/npt",
		"/sys/module/kvm_intel/parameters/ept",
	};
	char value = 0;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		fd = open(params[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (read(fd, &value, 1) != 1)
			value = 0;
		close(fd);
		if (value == 'N' || value == '0') {
			snprintf(err, errlen,
				 "KVM uses shadow paging here (%s is off), where a reset or restore cannot take back a guest's page tables; callbox needs nested paging",
				 params[i]);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

int callbox_vm_create(struct callbox_vm *vm, uint64_t mem_size, int mem_fd,
		      char *err, size_t errlen)
{
	struct kvm_userspace_memory_region region;
	int ret;

	callbox_vm_init(vm);

	ret = vm_check_nested_paging(err, errlen);
	if (ret < 0)
		return ret;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = kvm_fail(err, errlen, -errno, "open /dev/kvm");
		goto out_destroy;
	}
	ret = kvm_ioctl(vm->kvm_fd, KVM_GET_API_VERSION, NULL);
	if (ret != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, expected %d", ret,
			 KVM_API_VERSION);
		ret = -EPROTO;
		goto out_destroy;
	}

	ret = kvm_ioctl(vm->kvm_fd, KVM_CREATE_VM, (void *)0);
	if (ret < 0) {
		kvm_fail(err, errlen, ret, "KVM_CREATE_VM");
		goto out_destroy;
	}
	vm->vm_fd = ret;
	/* Before the vCPU: KVM refuses it once one exists. */
	ret = vm_disable_pmu(vm, err, errlen);
	if (ret < 0)
		goto out_destroy;

	/* A template's pages stay shared until the guest writes one. */
	vm->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_NORESERVE |
		       (mem_fd < 0 ? MAP_ANONYMOUS : 0), mem_fd, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		ret = kvm_fail(err, errlen, -errno, "mmap guest memory");
		goto out_destroy;
	}
	vm->mem_size = mem_size;
	ret = callbox_dirty_log_init(&vm->log, vm->vm_fd, mem_size, err,
				     errlen);
	if (ret)
		goto out_destroy;

	/*
	 * KVM logs the pages the guest writes, so that a reset puts back only
	 * those (see callbox_sandbox_reset()). The price: KVM maps the region
	 * with 4 KiB pages, and the first write to a page after each reset
	 * takes a fault that KVM handles without leaving the kernel (but for
	 * the pages every request writes: see dirty_log.c).
	 */
	region = (struct kvm_userspace_memory_region) {
		.slot = 0,
		.flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = 0,
		.memory_size = mem_size,
		.userspace_addr = (uintptr_t)vm->mem,
	};
	ret = kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
	if (ret < 0) {
		kvm_fail(err, errlen, ret, "KVM_SET_USER_MEMORY_REGION");
		goto out_destroy;
	}

	/* Needed by Intel hosts without unrestricted guest; a no-op on AMD. */
	ret = kvm_ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)CALLBOX_TSS_ADDR);
	if (ret < 0) {
		kvm_fail(err, errlen, ret, "KVM_SET_TSS_ADDR");
		goto out_destroy;
	}

	ret = kvm_ioctl(vm->vm_fd, KVM_CREATE_VCPU, (void *)0);
	if (ret < 0) {
		kvm_fail(err, errlen, ret, "KVM_CREATE_VCPU");
		goto out_destroy;
	}
	vm->vcpu_fd = ret;

	ret = kvm_ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (ret < 0) {
		kvm_fail(err, errlen, ret, "KVM_GET_VCPU_MMAP_SIZE");
		goto out_destroy;
	}
	vm->run_size = ret;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		ret = kvm_fail(err, errlen, -errno, "mmap kvm_run");
		goto out_destroy;
	}

	ret = vm_set_cpuid(vm, err, errlen);
	if (!ret)
		ret = callbox_vcpu_msr_filter(vm->vm_fd, err, errlen);
	if (ret < 0)
		goto out_destroy;
	/* After the CPUID: it decides which MSRs the vCPU has. */
	ret = callbox_vcpu_state_save(vm->vcpu_fd, &vm->boot_state, err,
				      errlen);
	if (ret < 0)
		goto out_destroy;
	return 0;

out_destroy:
	callbox_vm_destroy(vm);
	return ret;
}

/*
 * How many exits finishing one instruction may take: an access that
 * crosses a page into memory the guest does not have is two MMIO exits,
 * a string instruction one per chunk of its data.
 */
#define FLUSH_EXITS_MAX	256

int callbox_vm_flush_exit(struct callbox_vm *vm, char *err, size_t errlen)
{
	unsigned int i;
	int ret;

	/*
	 * KVM_RUN returns -EINTR once nothing is left to finish. 0 means
	 * finishing took another exit (the access's second half, say),
	 * which is finished by the next KVM_RUN: until then it is pending,
	 * and a KVM_RUN that loads registers would replay it onto them.
	 */
	for (i = 0; i < FLUSH_EXITS_MAX; i++) {
		vm->run->immediate_exit = 1;
		ret = kvm_ioctl(vm->vcpu_fd, KVM_RUN, NULL);
		vm->run->immediate_exit = 0;
		if (ret == -EINTR)
			return 0;
		if (ret < 0)
			return kvm_fail(err, errlen, ret,
					"KVM_RUN (immediate exit)");
	}
	snprintf(err, errlen,
		 "the guest's last instruction still had I/O to finish after %u exits",
		 FLUSH_EXITS_MAX);
	return -EIO;
}

int callbox_vm_dirty_pages(struct callbox_vm *vm, char *err, size_t errlen)
{
	return callbox_dirty_log_collect(&vm->log, vm->vm_fd, err, errlen);
}

void callbox_vm_destroy(struct callbox_vm *vm)
{
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	callbox_dirty_log_free(&vm->log);
	callbox_vcpu_state_free(&vm->boot_state);
	callbox_vm_init(vm);
}

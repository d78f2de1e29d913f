/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * libcallbox internal: the vCPU state a guest can change, saved whole and
 * put back whole, so that nothing one request leaves in the CPU reaches
 * the next.
 */
#ifndef CALLBOX_VCPU_STATE_H
#define CALLBOX_VCPU_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/kvm.h>

/**
 * struct callbox_vcpu_state - everything of a vCPU that KVM lets a VMM set
 * @sregs: segment, descriptor-table and control registers, EFER, APIC base
 * @debugregs: DR0-DR3, DR6, DR7
 * @xcrs: XCR0
 * @xsave: x87, SSE, AVX and every other XSAVE component (allocated:
 *	the uapi struct ends in a flexible array)
 * @msrs: the MSRs the guest may write (vcpu_state.c's guest_msrs[]) that
 *	this vCPU reads and takes back
 * @regs: general registers, RIP and RFLAGS
 * @events: pending exceptions, interrupts and NMIs, interrupt shadow
 * @mp_state: runnable or halted
 *
 * A boot loads it all, then sets the registers and events of the layout
 * anew (callbox_vm_boot_regs()); a restore loads it all.
 */
struct callbox_vcpu_state {
	struct kvm_regs regs;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	struct kvm_sregs sregs;
	struct kvm_debugregs debugregs;
	struct kvm_xcrs xcrs;
	struct kvm_xsave *xsave;
	struct kvm_msrs *msrs;
};

/*
 * Make every WRMSR of VM @vm_fd's guest fault but those of the MSRs the
 * state holds (and EFER's): 0, or -errno and why.
 */
int callbox_vcpu_msr_filter(int vm_fd, char *err, size_t errlen);

/* Save the state of vCPU @vcpu_fd: 0, or -errno and why. */
int callbox_vcpu_state_save(int vcpu_fd, struct callbox_vcpu_state *st,
			    char *err, size_t errlen);

/*
 * Put @st back into vCPU @vcpu_fd, whose mapped kvm_run page is @run: 0,
 * or -errno and why. With @flush_tlb, KVM also drops every translation
 * the guest holds: the guest's page tables were put back behind its
 * back. With @by_run, the general and segment registers and the events
 * go through @run and a KVM_RUN that enters nothing, which is cheaper
 * than their ioctls; the vCPU's last exit must have been completed
 * (callbox_vm_flush_exit()). Without, they are ioctls, and KVM_RUN,
 * which a security module may refuse, is not used. Either way @run gets
 * the state's CR8, which the next KVM_RUN loads.
 */
int callbox_vcpu_state_load(int vcpu_fd, struct kvm_run *run, bool by_run,
			    const struct callbox_vcpu_state *st,
			    bool flush_tlb, char *err, size_t errlen);

void callbox_vcpu_state_free(struct callbox_vcpu_state *st);

#endif /* CALLBOX_VCPU_STATE_H */

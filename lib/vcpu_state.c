// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: the vCPU state a guest can change, saved whole and put back
 * whole.
 *
 * A boot used to set only what it needed (the long-mode segments and
 * control registers, x87 and SSE): whatever else a request changed stayed
 * for the next one. A DR7 breakpoint set by one request fired in the
 * next, and one on the SDK's init code failed every later reset; an MSR
 * such as LSTAR or KERNEL_GS_BASE, the AVX halves of the YMM registers
 * and XCR0 carried values from one request to the next. So the library
 * saves the vCPU's state as KVM created it and puts all of it back before
 * every boot: sregs, debug registers, XCR0, the XSAVE area, and the MSRs
 * the guest may write (every other WRMSR faults: guest_msrs[]). With the
 * general registers, pending events and the run state, the same save is
 * the vCPU half of a restore's snapshot.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_ioctl.h"
#include "vcpu_state.h"

static struct kvm_msrs *msrs_alloc(__u32 n)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) +
				       n * sizeof(struct kvm_msr_entry));

	if (m)
		m->nmsrs = n;
	return m;
}

/*
 * The MSRs a guest may write: those of system calls (SYSENTER's and
 * SYSCALL's), the segment bases (FS, GS and the one SWAPGS swaps),
 * TSC_AUX and the PAT; and EFER, which the sregs hold. KVM's MSR filter
 * (callbox_vcpu_msr_filter()) faults every other WRMSR with #GP. The
 * guest needs none of the others (the SDK writes no MSR at all), and
 * each would be state that one request could leave for the next, for
 * every restore to write back: KVM lists about forty for migration, and
 * the MTRRs and machine-check banks it leaves out made seventy-odd.
 * Writing those back was a KVM_SET_MSRS of 25.5 us, a sixth of a restore
 * (under TCG, December 2026, medians of 300). The others keep the values
 * KVM gave the vCPU, which no guest can change; the TSC runs on.
 */
#define MSR_EFER		0xc0000080u
static const __u32 guest_msrs[] = {
	0x174, 0x175, 0x176,			/* SYSENTER_CS, _ESP, _EIP */
	0x277,					/* PAT */
	0xc0000081, 0xc0000082, 0xc0000083,	/* STAR, LSTAR, CSTAR */
	0xc0000084,				/* SYSCALL_MASK */
	0xc0000100, 0xc0000101,			/* FS_BASE, GS_BASE */
	0xc0000102,				/* KERNEL_GS_BASE */
	0xc0000103,				/* TSC_AUX */
};
#define NR_GUEST_MSRS	(sizeof(guest_msrs) / sizeof(guest_msrs[0]))

/*
 * The filter's ranges: the architectural MSRs, and AMD's two blocks, each
 * 8192 MSRs from its base. The guest may read any of them (what KVM does
 * not have still faults); outside them it may neither read nor write.
 */
#define FILTER_RANGE_MSRS	0x2000u
static const __u32 filter_bases[] = { 0, 0xc0000000u, 0xc0010000u };
#define NR_FILTER_BASES	(sizeof(filter_bases) / sizeof(filter_bases[0]))

/* Let the guest write only @index, of those the filter's ranges hold. */
static void filter_allow_write(__u8 write[][FILTER_RANGE_MSRS / 8],
			       __u32 index)
{
	__u32 i, bit;

	for (i = 0; i < NR_FILTER_BASES; i++) {
		if (index - filter_bases[i] >= FILTER_RANGE_MSRS)
			continue;
		bit = index - filter_bases[i];
		write[i][bit / 8] |= 1u << (bit % 8);
	}
}

int callbox_vcpu_msr_filter(int vm_fd, char *err, size_t errlen)
{
	__u8 read[FILTER_RANGE_MSRS / 8];
	__u8 write[NR_FILTER_BASES][FILTER_RANGE_MSRS / 8];
	struct kvm_msr_filter filter = {
		.flags = KVM_MSR_FILTER_DEFAULT_DENY,
	};
	__u32 i;
	int ret;

	memset(read, 0xff, sizeof(read));
	memset(write, 0, sizeof(write));
	for (i = 0; i < NR_GUEST_MSRS; i++)
		filter_allow_write(write, guest_msrs[i]);
	filter_allow_write(write, MSR_EFER);
	for (i = 0; i < NR_FILTER_BASES; i++) {
		filter.ranges[2 * i] = (struct kvm_msr_filter_range) {
			.flags = KVM_MSR_FILTER_READ,
			.nmsrs = FILTER_RANGE_MSRS,
			.base = filter_bases[i],
			.bitmap = read,
		};
		filter.ranges[2 * i + 1] = (struct kvm_msr_filter_range) {
			.flags = KVM_MSR_FILTER_WRITE,
			.nmsrs = FILTER_RANGE_MSRS,
			.base = filter_bases[i],
			.bitmap = write[i],
		};
	}
	ret = kvm_ioctl(vm_fd, KVM_X86_SET_MSR_FILTER, &filter);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_X86_SET_MSR_FILTER");
	return 0;
}

/*
 * Read every MSR of @indices (@n) that this vCPU has. KVM_GET_MSRS stops
 * at the first one it cannot read (one the vCPU's CPUID does not offer,
 * TSC_AUX without RDTSCP), and returns how many it read: skip that one
 * and go on after it.
 */
static int msrs_read(int vcpu_fd, const __u32 *indices, __u32 n_indices,
		     struct kvm_msrs *out)
{
	struct kvm_msrs *chunk = msrs_alloc(n_indices);
	__u32 pos = 0, i;
	int n;

	if (!chunk)
		return -ENOMEM;
	out->nmsrs = 0;
	while (pos < n_indices) {
		chunk->nmsrs = n_indices - pos;
		for (i = 0; i < chunk->nmsrs; i++)
			chunk->entries[i] = (struct kvm_msr_entry) {
				.index = indices[pos + i],
			};
		n = kvm_ioctl(vcpu_fd, KVM_GET_MSRS, chunk);
		if (n < 0) {
			free(chunk);
			return n;
		}
		memcpy(&out->entries[out->nmsrs], chunk->entries,
		       n * sizeof(chunk->entries[0]));
		out->nmsrs += n;
		pos += n + 1;
	}
	free(chunk);
	return 0;
}

/*
 * Keep only the MSRs that KVM takes back: write each value read, as it
 * is, and drop any that KVM_SET_MSRS refuses (it stops at the first).
 */
static int msrs_keep_writable(int vcpu_fd, struct kvm_msrs *msrs)
{
	struct kvm_msrs *chunk = msrs_alloc(msrs->nmsrs);
	__u32 pos = 0, kept = 0;
	int n;

	if (!chunk)
		return -ENOMEM;
	while (pos < msrs->nmsrs) {
		chunk->nmsrs = msrs->nmsrs - pos;
		memcpy(chunk->entries, &msrs->entries[pos],
		       chunk->nmsrs * sizeof(chunk->entries[0]));
		n = kvm_ioctl(vcpu_fd, KVM_SET_MSRS, chunk);
		if (n < 0) {
			free(chunk);
			return n;
		}
		memmove(&msrs->entries[kept], &msrs->entries[pos],
			n * sizeof(msrs->entries[0]));
		kept += n;
		pos += n + 1;
	}
	msrs->nmsrs = kept;
	free(chunk);
	return 0;
}

/* The XSAVE header's XSTATE_BV: the components the image holds. */
#define XSAVE_XSTATE_BV		(512 / sizeof(__u32))
#define XFEATURE_SSE		(1u << 1)

/*
 * Mark SSE as held by @xsave, whose legacy area has its values (the
 * initial ones, where KVM reported it unused). On 6.1, KVM_SET_XSAVE
 * loads MXCSR only from an image that holds x87, SSE or AVX state, and
 * leaves it as the guest left it otherwise (copy_uabi_to_xstate()); nor
 * does KVM_SET_FPU load it. So a fresh vCPU's image, which holds none,
 * let a request's MXCSR outlive every reset; and a snapshot taken where
 * the CPU's XSAVES reports SSE unused (it does so for state in its
 * initial configuration; QEMU never does) would have let it outlive a
 * restore. With SSE marked, the XMM registers are loaded from the image
 * too, which holds what they were.
 */
static void xsave_mark_sse(struct kvm_xsave *xsave)
{
	xsave->region[XSAVE_XSTATE_BV] |= XFEATURE_SSE;
}

int callbox_vcpu_state_save(int vcpu_fd, struct callbox_vcpu_state *st,
			    char *err, size_t errlen)
{
	int ret;

	memset(st, 0, sizeof(*st));
	ret = kvm_ioctl(vcpu_fd, KVM_GET_REGS, &st->regs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_GET_REGS");
	ret = kvm_ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &st->events);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_GET_VCPU_EVENTS");
	ret = kvm_ioctl(vcpu_fd, KVM_GET_MP_STATE, &st->mp_state);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_GET_MP_STATE");
	ret = kvm_ioctl(vcpu_fd, KVM_GET_SREGS, &st->sregs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_GET_SREGS");
	ret = kvm_ioctl(vcpu_fd, KVM_GET_DEBUGREGS, &st->debugregs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_GET_DEBUGREGS");
	ret = kvm_ioctl(vcpu_fd, KVM_GET_XCRS, &st->xcrs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_GET_XCRS");
	st->xsave = calloc(1, sizeof(*st->xsave));
	if (!st->xsave)
		return kvm_fail(err, errlen, -ENOMEM, "saving the XSAVE area");
	ret = kvm_ioctl(vcpu_fd, KVM_GET_XSAVE, st->xsave);
	if (ret < 0) {
		callbox_vcpu_state_free(st);
		return kvm_fail(err, errlen, ret, "KVM_GET_XSAVE");
	}
	xsave_mark_sse(st->xsave);

	st->msrs = msrs_alloc(NR_GUEST_MSRS);
	ret = st->msrs ? msrs_read(vcpu_fd, guest_msrs, NR_GUEST_MSRS,
				   st->msrs) : -ENOMEM;
	if (!ret)
		ret = msrs_keep_writable(vcpu_fd, st->msrs);
	if (ret) {
		callbox_vcpu_state_free(st);
		return kvm_fail(err, errlen, ret, "saving the MSRs");
	}
	return 0;
}

#define EFER_NX		(1ull << 11)

/*
 * Put back the MSRs of @want and, with @flush_tlb, make KVM drop every
 * translation the guest holds: EFER.NX flipped and flipped back makes
 * KVM reset its MMU context (set_efer(): NX is one of
 * KVM_MMU_EFER_ROLE_BITS, on 6.1 as on 6.12), and the next entry loads
 * the MMU and flushes the guest's TLB, as a change of CR3 would. The
 * guest's own EFER is left as it was. Two more MSRs in this ioctl cost
 * less than another KVM_SET_SREGS: under TCG (December 2026, medians of
 * 300 restores), the restore's second KVM_SET_SREGS, with the boot's
 * control registers, took 12-14 us. Reading the MSRs to write back only
 * those that changed cost more than writing them all, when the list was
 * seventy-odd long (KVM_GET_MSRS 24 us, KVM_SET_MSRS 25.5 us).
 */
static int msrs_load(int vcpu_fd, const struct kvm_msrs *want, __u64 efer,
		     bool flush_tlb, char *err, size_t errlen)
{
	struct kvm_msrs *set = msrs_alloc(want->nmsrs + 2);
	__u32 n = want->nmsrs;
	int ret;

	if (!set)
		return kvm_fail(err, errlen, -ENOMEM, "KVM_SET_MSRS");
	memcpy(set->entries, want->entries, n * sizeof(want->entries[0]));
	if (flush_tlb) {
		set->entries[n++] = (struct kvm_msr_entry) {
			.index = MSR_EFER, .data = efer ^ EFER_NX,
		};
		set->entries[n++] = (struct kvm_msr_entry) {
			.index = MSR_EFER, .data = efer,
		};
	}
	set->nmsrs = n;
	ret = kvm_ioctl(vcpu_fd, KVM_SET_MSRS, set);
	if (ret >= 0 && (__u32)ret < n) {
		snprintf(err, errlen, "KVM_SET_MSRS: MSR %#x refused",
			 set->entries[ret].index);
		ret = -EIO;
	} else if (ret < 0) {
		ret = kvm_fail(err, errlen, ret, "KVM_SET_MSRS");
	} else {
		ret = 0;
	}
	free(set);
	return ret;
}

/* What KVM_RUN loads from kvm_run's sync regs (KVM_CAP_SYNC_REGS). */
#define SYNC_REGS_LOADED	(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | \
				 KVM_SYNC_X86_EVENTS)

/*
 * Load the general and segment registers and the events of @st through
 * the vCPU's kvm_run page @run, by a KVM_RUN that enters nothing
 * (immediate_exit): one system call where three ioctls were. Under TCG
 * (December 2026, medians of 300), 5.6 us against 10.4 on a real-mode
 * vCPU. KVM_RUN loads them (sync_regs()) before it completes the last
 * exit, so that exit must have been completed already
 * (callbox_vm_flush_exit()): a port I/O's completion, replayed onto the
 * loaded RIP, would skip an instruction or write RAX. The order within
 * is KVM's: general registers, segment registers, then events.
 */
static int sync_regs_load(int vcpu_fd, struct kvm_run *run,
			  const struct callbox_vcpu_state *st, char *err,
			  size_t errlen)
{
	int ret;

	run->s.regs.regs = st->regs;
	run->s.regs.sregs = st->sregs;
	run->s.regs.events = st->events;
	run->kvm_dirty_regs = SYNC_REGS_LOADED;
	run->immediate_exit = 1;
	ret = kvm_ioctl(vcpu_fd, KVM_RUN, NULL);
	run->immediate_exit = 0;
	/* KVM clears each part's bit once that part is loaded. */
	if (ret == -EINTR && !run->kvm_dirty_regs)
		return 0;
	/* Whatever is left must not be loaded by some later KVM_RUN. */
	run->kvm_dirty_regs = 0;
	if (ret != -EINTR)
		return kvm_fail(err, errlen, ret < 0 ? ret : -EIO,
				"KVM_RUN (loading the registers)");
	snprintf(err, errlen, "KVM_RUN left the registers unloaded");
	return -EIO;
}

int callbox_vcpu_state_load(int vcpu_fd, struct kvm_run *run,
			    bool by_run, const struct callbox_vcpu_state *st,
			    bool flush_tlb, char *err, size_t errlen)
{
	int ret;

	/*
	 * Without a local APIC in the kernel, every KVM_RUN loads CR8 from
	 * kvm_run (the TPR userspace keeps), after the sregs: left alone,
	 * it holds the guest's CR8 as of the last exit, which would come
	 * back over the state's.
	 */
	run->cr8 = st->sregs.cr8;
	if (!by_run) {
		ret = kvm_ioctl(vcpu_fd, KVM_SET_SREGS, (void *)&st->sregs);
		if (ret < 0)
			return kvm_fail(err, errlen, ret, "KVM_SET_SREGS");
	}
	ret = kvm_ioctl(vcpu_fd, KVM_SET_DEBUGREGS, (void *)&st->debugregs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_DEBUGREGS");
	ret = kvm_ioctl(vcpu_fd, KVM_SET_XCRS, (void *)&st->xcrs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_XCRS");
	ret = kvm_ioctl(vcpu_fd, KVM_SET_XSAVE, st->xsave);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_XSAVE");
	/*
	 * EFER's flips start from the state's EFER, whether the sregs are
	 * loaded before or after: with them, EFER ends as the state has it.
	 */
	ret = msrs_load(vcpu_fd, st->msrs, st->sregs.efer, flush_tlb, err,
			errlen);
	if (ret < 0)
		return ret;
	ret = kvm_ioctl(vcpu_fd, KVM_SET_MP_STATE, (void *)&st->mp_state);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_MP_STATE");
	if (by_run)
		return sync_regs_load(vcpu_fd, run, st, err, errlen);
	/* After the segment registers, which decide how RIP reads. */
	ret = kvm_ioctl(vcpu_fd, KVM_SET_REGS, (void *)&st->regs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_REGS");
	ret = kvm_ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, (void *)&st->events);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_VCPU_EVENTS");
	return 0;
}

void callbox_vcpu_state_free(struct callbox_vcpu_state *st)
{
	free(st->xsave);
	st->xsave = NULL;
	free(st->msrs);
	st->msrs = NULL;
}

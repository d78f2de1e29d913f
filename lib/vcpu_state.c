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
 * every boot: sregs, debug registers, XCR0, the XSAVE area, every MSR
 * KVM lists for migration, and the MTRRs and machine-check banks it does
 * not list. With the general registers, pending events and
 * the run state, the same save is the vCPU half of a restore's snapshot.
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
 * MSRs a guest can write that KVM_GET_MSR_INDEX_LIST leaves out (a VMM
 * saves them on its own): the MTRRs, and the machine-check registers,
 * up to 32 banks of four (vm.c gives the vCPU one), whose ADDR and MISC
 * take any value. Those this vCPU lacks are dropped like any other.
 */
#define MSR_MTRR_VAR_FIRST	0x200u	/* 8 PHYSBASE/PHYSMASK pairs */
#define MSR_MTRR_VAR_LAST	0x20fu
#define MSR_MCG_STATUS		0x17au
#define MSR_MCG_CTL		0x17bu
#define MSR_MC_FIRST		0x400u	/* MCi_CTL, _STATUS, _ADDR, _MISC */
#define MSR_MC_LAST		0x47fu
static const __u32 msrs_extra[] = {
	0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d,
	0x26e, 0x26f, 0x2ff, MSR_MCG_STATUS, MSR_MCG_CTL,
};
#define NR_EXTRA_MSRS	(MSR_MTRR_VAR_LAST - MSR_MTRR_VAR_FIRST + 1 + \
			 MSR_MC_LAST - MSR_MC_FIRST + 1 + \
			 sizeof(msrs_extra) / sizeof(msrs_extra[0]))

/*
 * MSRs KVM lists that the guest cannot write, so that no request can
 * leave them for the next and a restore need not put them back (they
 * were two fifths of the list, and most of a restore's KVM_SET_MSRS):
 * KVM's paravirtual ones, old and new, and Hyper-V's: vm.c gives the
 * guest a CPUID without those features, which KVM then refuses it; and
 * AMD's performance counters and their controls, legacy and core: vm.c
 * gives the VM no PMU, and KVM then ignores the guest's writes to the
 * legacy ones and faults the others. residue_test checks that none of
 * them takes a guest's write. (The test VM's KVM has no PMU to give, so
 * there the PMU half rests on KVM's code: get_gp_pmc_amd() and
 * amd_is_valid_msr() refuse every counter of a VM without one, in 6.1
 * as in 6.12.)
 */
#define MSR_KVM_WALL_CLOCK_OLD	0x11u
#define MSR_KVM_SYSTEM_TIME_OLD	0x12u
#define MSR_HYPERV_FIRST	0x40000000u
#define MSR_HYPERV_LAST		0x400001ffu
#define MSR_KVM_PV_FIRST	0x4b564d00u
#define MSR_KVM_PV_LAST		0x4b564dffu
#define MSR_AMD_PMU_LEGACY_FIRST 0xc0010000u	/* 4 PERF_CTL, 4 PERF_CTR */
#define MSR_AMD_PMU_LEGACY_LAST	0xc0010007u
#define MSR_AMD_PMU_CORE_FIRST	0xc0010200u	/* 6 PERF_CTL/PERF_CTR pairs */
#define MSR_AMD_PMU_CORE_LAST	0xc001020bu

static bool msr_guest_cannot_write(__u32 index)
{
	return index == MSR_KVM_WALL_CLOCK_OLD ||
	       index == MSR_KVM_SYSTEM_TIME_OLD ||
	       (index >= MSR_HYPERV_FIRST && index <= MSR_HYPERV_LAST) ||
	       (index >= MSR_KVM_PV_FIRST && index <= MSR_KVM_PV_LAST) ||
	       (index >= MSR_AMD_PMU_LEGACY_FIRST &&
		index <= MSR_AMD_PMU_LEGACY_LAST) ||
	       (index >= MSR_AMD_PMU_CORE_FIRST &&
		index <= MSR_AMD_PMU_CORE_LAST);
}

static void msr_list_add(struct kvm_msr_list *list, __u32 index)
{
	__u32 i;

	for (i = 0; i < list->nmsrs; i++)
		if (list->indices[i] == index)
			return;
	list->indices[list->nmsrs++] = index;
}

/*
 * The MSRs KVM saves and restores for migration, but those the guest
 * cannot write, and the extra ones above: NULL and -errno on error.
 */
static struct kvm_msr_list *msr_index_list(int kvm_fd, int *ret)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	__u32 i, kept;

	*ret = kvm_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe);
	if (*ret != -E2BIG)
		return NULL;
	list = calloc(1, sizeof(*list) +
		      (probe.nmsrs + NR_EXTRA_MSRS) * sizeof(__u32));
	if (!list) {
		*ret = -ENOMEM;
		return NULL;
	}
	list->nmsrs = probe.nmsrs;
	*ret = kvm_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list);
	if (*ret < 0) {
		free(list);
		return NULL;
	}
	for (i = 0, kept = 0; i < list->nmsrs; i++)
		if (!msr_guest_cannot_write(list->indices[i]))
			list->indices[kept++] = list->indices[i];
	list->nmsrs = kept;
	for (i = MSR_MTRR_VAR_FIRST; i <= MSR_MTRR_VAR_LAST; i++)
		msr_list_add(list, i);
	for (i = 0; i < sizeof(msrs_extra) / sizeof(msrs_extra[0]); i++)
		msr_list_add(list, msrs_extra[i]);
	for (i = MSR_MC_FIRST; i <= MSR_MC_LAST; i++)
		msr_list_add(list, i);
	return list;
}

/*
 * Read every MSR of @list that this vCPU has. KVM_GET_MSRS stops at the
 * first one it cannot read (one the vCPU's CPUID does not offer), and
 * returns how many it read: skip that one and go on after it.
 */
static int msrs_read(int vcpu_fd, const struct kvm_msr_list *list,
		     struct kvm_msrs *out)
{
	struct kvm_msrs *chunk = msrs_alloc(list->nmsrs);
	__u32 pos = 0, i;
	int n;

	if (!chunk)
		return -ENOMEM;
	out->nmsrs = 0;
	while (pos < list->nmsrs) {
		chunk->nmsrs = list->nmsrs - pos;
		for (i = 0; i < chunk->nmsrs; i++)
			chunk->entries[i] = (struct kvm_msr_entry) {
				.index = list->indices[pos + i],
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

int callbox_vcpu_state_save(int kvm_fd, int vcpu_fd,
			    struct callbox_vcpu_state *st, char *err,
			    size_t errlen)
{
	struct kvm_msr_list *list;
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

	list = msr_index_list(kvm_fd, &ret);
	if (!list)
		return kvm_fail(err, errlen, ret, "KVM_GET_MSR_INDEX_LIST");
	st->msrs = msrs_alloc(list->nmsrs);
	ret = st->msrs ? msrs_read(vcpu_fd, list, st->msrs) : -ENOMEM;
	free(list);
	if (!ret)
		ret = msrs_keep_writable(vcpu_fd, st->msrs);
	if (ret) {
		callbox_vcpu_state_free(st);
		return kvm_fail(err, errlen, ret, "saving the MSRs");
	}
	return 0;
}

#define MSR_EFER	0xc0000080u
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
 * those that changed costs more than writing them all (KVM_GET_MSRS 24
 * us, KVM_SET_MSRS 25.5 us).
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

int callbox_vcpu_state_load(int vcpu_fd, const struct callbox_vcpu_state *st,
			    bool flush_tlb, char *err, size_t errlen)
{
	int ret;

	ret = kvm_ioctl(vcpu_fd, KVM_SET_SREGS, (void *)&st->sregs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_SREGS");
	ret = kvm_ioctl(vcpu_fd, KVM_SET_DEBUGREGS, (void *)&st->debugregs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_DEBUGREGS");
	ret = kvm_ioctl(vcpu_fd, KVM_SET_XCRS, (void *)&st->xcrs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_XCRS");
	ret = kvm_ioctl(vcpu_fd, KVM_SET_XSAVE, st->xsave);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_XSAVE");
	/* After the sregs: EFER's flips start from the state's EFER. */
	ret = msrs_load(vcpu_fd, st->msrs, st->sregs.efer, flush_tlb, err,
			errlen);
	if (ret < 0)
		return ret;
	/* After the segment registers, which decide how RIP reads. */
	ret = kvm_ioctl(vcpu_fd, KVM_SET_REGS, (void *)&st->regs);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_REGS");
	ret = kvm_ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, (void *)&st->events);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_VCPU_EVENTS");
	ret = kvm_ioctl(vcpu_fd, KVM_SET_MP_STATE, (void *)&st->mp_state);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_SET_MP_STATE");
	return 0;
}

void callbox_vcpu_state_free(struct callbox_vcpu_state *st)
{
	free(st->xsave);
	st->xsave = NULL;
	free(st->msrs);
	st->msrs = NULL;
}

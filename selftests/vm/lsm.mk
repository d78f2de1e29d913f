# SPDX-License-Identifier: GPL-2.0
#
# lsm_test: a BPF LSM policy that forbids KVM_RUN must hold through
# callbox too. The BPF program is built with clang and embedded in the
# test (.incbin, see lsm_test.c), which links libbpf statically: the VM
# gets one static binary, and needs no bpftool (no skeleton, no
# vmlinux.h).

LSM_BPF_OBJ := $(BUILD)/selftests/lsm_deny_kvm_run.bpf.o
# -target bpf does not search the multiarch dir, where asm/types.h lives.
LSM_BPF_CFLAGS = -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 \
	-I/usr/include/$(shell $(CC) -print-multiarch)

$(LSM_BPF_OBJ): selftests/vm/lsm_deny_kvm_run.bpf.c
	@mkdir -p $(@D)
	clang $(LSM_BPF_CFLAGS) -c $< -o $@

# Overrides the generic $(BUILD)/selftests/% rule of the Makefile.
$(BUILD)/selftests/lsm_test: selftests/vm/lsm_test.c \
		selftests/vm/callbox_util.h selftests/vm/raw_guest.h selftests/vm/stall.h \
		$(LSM_BPF_OBJ) $(LIB_A) $(KSFT_HARNESS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -isystem $(KSFT) $(CFLAGS) \
		-DLSM_BPF_OBJ='"$(abspath $(LSM_BPF_OBJ))"' \
		-static -o $@ $< $(LIB_A) -lbpf -lelf -lz -lpthread

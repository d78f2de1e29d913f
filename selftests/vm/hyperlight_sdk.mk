# SPDX-License-Identifier: GPL-2.0
#
# hyperlight_sdk_test wraps libcallbox's ioctl() (-Wl,--wrap=ioctl) to
# interfere at one exact point of a reset; see the test's opening comment.

# Overrides the generic $(BUILD)/selftests/% rule of the Makefile.
$(BUILD)/selftests/hyperlight_sdk_test: selftests/vm/hyperlight_sdk_test.c \
		selftests/vm/callbox_util.h selftests/vm/raw_guest.h \
		$(LIB_A) $(KSFT_HARNESS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -isystem $(KSFT) $(CFLAGS) -static \
		-Wl,--wrap=ioctl -o $@ $< $(LIB_A) -lpthread

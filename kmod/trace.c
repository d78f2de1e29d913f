// SPDX-License-Identifier: GPL-2.0
/* callbox: the tracepoints' definitions (see trace.h). */
#include "callbox.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_params.c - /sys/module/kpeek/parameters. All are 0444: the caps are checked on every
 * create, and lowering one under existing objects would leave more objects than allowed, so they
 * are fixed at load (`insmod kpeek.ko max_groups=16`).
 */
#include <linux/moduleparam.h>
#include "kpeek_internal.h"

unsigned int kpeek_max_groups = KPEEK_DEFAULT_MAX_GROUPS;
module_param_named(max_groups, kpeek_max_groups, uint, 0444);
MODULE_PARM_DESC(max_groups, "Maximum number of counter groups (default 1024)");

unsigned int kpeek_max_counters = KPEEK_DEFAULT_MAX_COUNTERS;
module_param_named(max_counters, kpeek_max_counters, uint, 0444);
MODULE_PARM_DESC(max_counters, "Maximum number of counters in all groups (default 65536)");

/* Debugging only: lets the test suite check that every init step unwinds cleanly. */
int kpeek_fail_init_step;
module_param_named(fail_init_step, kpeek_fail_init_step, int, 0444);
MODULE_PARM_DESC(fail_init_step, "Debug: make module init fail at step N (0 = never)");

/* How often a mapped counter page is refreshed; KPEEK_IOC_MMAP_SYNC refreshes it at once. */
unsigned int kpeek_mmap_refresh_ms = 100;
module_param_named(mmap_refresh_ms, kpeek_mmap_refresh_ms, uint, 0444);
MODULE_PARM_DESC(mmap_refresh_ms, "Refresh period of the mmap'ed counters in ms (default 100)");

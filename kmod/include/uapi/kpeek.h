/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kpeek.h - the ABI shared by kpeek.ko and user space.
 *
 * Everything user space may rely on lives here: limits, names of the channels, and (from ABI
 * version 2 on) the char-device, ioctl, mmap and netlink layouts. The Rust mirror is
 * crates/kpeek-abi; a test compiles this header and compares every size, offset and constant.
 */
#ifndef _UAPI_LINUX_KPEEK_H
#define _UAPI_LINUX_KPEEK_H

#include <linux/types.h>

/* Bumped whenever anything below changes incompatibly. */
#define KPEEK_ABI_VERSION 1

/*
 * Group and counter names: 1..KPEEK_NAME_MAX bytes of [A-Za-z0-9_] (they become sysfs and
 * configfs file names, netlink strings and metric labels, so nothing that needs quoting).
 * Longer names fail with -ENAMETOOLONG, other bad names with -EINVAL.
 */
#define KPEEK_NAME_MAX 31
/* A counter's description: printable text, at most this many bytes. */
#define KPEEK_DESC_MAX 127

/* Reserved: a group may not be called "info", a counter may not be called "reset". */
#define KPEEK_RESERVED_GROUP "info"
#define KPEEK_RESERVED_COUNTER "reset"

/* Default caps; the module parameters max_groups and max_counters override them at load. */
#define KPEEK_DEFAULT_MAX_GROUPS 1024
#define KPEEK_DEFAULT_MAX_COUNTERS 65536

/* Where the channels live. */
#define KPEEK_PROC_PATH "/proc/kpeek"
#define KPEEK_SYSFS_DIR "/sys/kernel/kpeek"
#define KPEEK_CONFIGFS_DIR "/sys/kernel/config/kpeek"
#define KPEEK_DEBUGFS_DIR "/sys/kernel/debug/kpeek"
#define KPEEK_PARAMS_DIR "/sys/module/kpeek/parameters"

#endif /* _UAPI_LINUX_KPEEK_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kpeek_compat.h - every difference between the kernel versions kpeek.ko builds against
 * (Debian's 5.10 to 7.x, PREEMPT_RT, 32-bit), in one place, the way LTTng-modules' wrapper/
 * directory does it: a channel file calls kpeek_compat_*() and never tests LINUX_VERSION_CODE
 * itself. Each wrapper says which kernel changed what.
 */
#ifndef _KPEEK_COMPAT_H
#define _KPEEK_COMPAT_H

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/blktrace_api.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/version.h>
#include <net/genetlink.h>
#include <net/netlink.h>

/*
 * 6.3 made vma->vm_flags const outside the mm core and added the vm_flags_*() wrappers that
 * change it (and assert the mmap lock); before 6.3 the field is written directly.
 */
static inline void kpeek_compat_vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

static inline void kpeek_compat_vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * kobject_init_and_add() takes a const struct kobj_type from 6.2 on; 5.10 and 6.1 take a
 * mutable one.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define KPEEK_COMPAT_KTYPE_CONST const
#else
#define KPEEK_COMPAT_KTYPE_CONST
#endif

/*
 * The sched_switch tracepoint passes prev_state from 5.18 on. Before, a probe reads the state
 * itself, as __schedule() does when it computes the argument (the field is "state" before 5.14,
 * "__state" after). The second argument of kpeek_compat_prev_state() names the tracepoint's
 * argument and is not evaluated on older kernels.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 18, 0)
#define KPEEK_COMPAT_SCHED_SWITCH_ARGS \
	bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state
#define kpeek_compat_prev_state(prev, prev_state) (prev_state)
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(5, 14, 0)
#define KPEEK_COMPAT_SCHED_SWITCH_ARGS \
	bool preempt, struct task_struct *prev, struct task_struct *next
#define kpeek_compat_prev_state(prev, prev_state) ((unsigned int)READ_ONCE((prev)->__state))
#else
#define KPEEK_COMPAT_SCHED_SWITCH_ARGS \
	bool preempt, struct task_struct *prev, struct task_struct *next
#define kpeek_compat_prev_state(prev, prev_state) ((unsigned int)READ_ONCE((prev)->state))
#endif

/*
 * block_rq_issue lost its request_queue argument in 5.11, and stable kernels took that over
 * (Debian's 5.10.2xx has block_rq_issue(rq)): kmod/Kbuild reads the prototype from the kernel's
 * include/trace/events/block.h and defines KPEEK_BLOCK_RQ_ISSUE_PROTO_q or _rq. A probe with
 * the wrong prototype would read garbage as a request, so an unknown one stops the build.
 */
#if defined(KPEEK_BLOCK_RQ_ISSUE_PROTO_rq)
#define KPEEK_COMPAT_BLOCK_RQ_ISSUE_ARGS struct request *rq
#elif defined(KPEEK_BLOCK_RQ_ISSUE_PROTO_q)
#define KPEEK_COMPAT_BLOCK_RQ_ISSUE_ARGS struct request_queue *q, struct request *rq
#else
#error "kmod/Kbuild could not read block_rq_issue's prototype from include/trace/events/block.h"
#endif

/* blk_fill_rwbs() lost its byte count in 5.11 (5.10's trace event passes blk_rq_bytes()). */
static inline void kpeek_compat_fill_rwbs(char *rwbs, struct request *rq)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 11, 0)
	blk_fill_rwbs(rwbs, rq->cmd_flags);
#else
	blk_fill_rwbs(rwbs, rq->cmd_flags, blk_rq_bytes(rq));
#endif
}

/* The request's disk: rq->rq_disk on 5.10, rq->q->disk on later kernels (switch at 5.16). */
static inline dev_t kpeek_compat_rq_devt(struct request *rq)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 16, 0)
	struct gendisk *disk = rq->q->disk;
#else
	struct gendisk *disk = rq->rq_disk;
#endif

	return disk ? disk_devt(disk) : 0;
}

/*
 * Generic netlink. 6.1 added resv_start_op: ops numbered below it keep the old lax handling of
 * the reserved header bytes, so kpeek sets it to 0. Before 6.1 the field does not exist, and the
 * family's ops validate strictly unless they opt out (kpeek's ops do not).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#define KPEEK_COMPAT_GENL_RESV_START_OP .resv_start_op = 0,
#else
#define KPEEK_COMPAT_GENL_RESV_START_OP
#endif

/*
 * GENL_REQ_ATTR_CHECK() (6.1) also reports the missing attribute's type in the extended ack
 * (NLMSGERR_ATTR_MISS_TYPE). Before 6.1 the extended ack has no such field: the fallback only
 * says which attribute in the message text.
 */
#ifndef GENL_REQ_ATTR_CHECK
#define GENL_REQ_ATTR_CHECK(info, attr) ({					\
	struct genl_info *__info = (info);					\
	bool __missing = !__info->attrs[(attr)];				\
									\
	if (__missing)								\
		NL_SET_ERR_MSG(__info->extack, "missing attribute " #attr);	\
	__missing;								\
})
#endif

/*
 * struct nla_policy points to a const netlink_range_validation on 6.12 and later, to a mutable
 * one on 5.10 and 6.1 (Debian's kernels in between are not tested; the switch is taken at 6.2).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define KPEEK_COMPAT_NL_RANGE_CONST const
#else
#define KPEEK_COMPAT_NL_RANGE_CONST
#endif

/* nla_strlcpy() became nla_strscpy() in 5.11; kpeek does not use the return value. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 11, 0)
#define nla_strscpy(dst, nla, dstsize) nla_strlcpy(dst, nla, dstsize)
#endif

/*
 * The 64-bit MSR accessors: rdmsrl()/wrmsrl() became rdmsrq()/wrmsrq() in 6.16 (rdmsrq is a
 * macro there, so its presence tells). Only kpeek_peek.c uses them, on IBT kernels.
 */
#ifdef CONFIG_X86_KERNEL_IBT
#include <asm/msr.h>
#ifdef rdmsrq
#define kpeek_compat_rdmsr64(msr, val)	rdmsrq(msr, val)
#define kpeek_compat_wrmsr64(msr, val)	wrmsrq(msr, val)
#else
#define kpeek_compat_rdmsr64(msr, val)	rdmsrl(msr, val)
#define kpeek_compat_wrmsr64(msr, val)	wrmsrl(msr, val)
#endif
#endif

/*
 * hrtimer_setup() (6.13) replaced hrtimer_init() and a separate ->function store; 7.x has only
 * the former. Used by vmtest's kpeek_apitest.ko, which builds with these headers.
 */
#include <linux/hrtimer.h>
static inline void kpeek_compat_hrtimer_setup(struct hrtimer *t,
					      enum hrtimer_restart (*fn)(struct hrtimer *),
					      clockid_t clock, enum hrtimer_mode mode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
	hrtimer_setup(t, fn, clock, mode);
#else
	hrtimer_init(t, clock, mode);
	t->function = fn;
#endif
}

#endif /* _KPEEK_COMPAT_H */

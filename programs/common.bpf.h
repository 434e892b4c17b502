/* Kernel-side helpers shared by hotpath's programs. */
#ifndef HOTPATH_COMMON_BPF_H
#define HOTPATH_COMMON_BPF_H

/* vmlinux.h carries types, not the errno macros. */
#ifndef EFAULT
#define EFAULT 14
#endif
#ifndef EEXIST
#define EEXIST 17
#endif

#endif

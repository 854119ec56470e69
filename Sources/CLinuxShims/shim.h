#ifndef SMX_CLINUXSHIMS_SHIM_H
#define SMX_CLINUXSHIMS_SHIM_H
// Linux calls that Swift's Glibc module does not import because glibc declares them only
// under _GNU_SOURCE. Only IO/Syscalls.swift uses this module.
#if defined(__linux__)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>

/// fallocate(2) with mode 0: reserve [offset, offset + length), extending the size.
static inline int smx_fallocate(int fd, off_t offset, off_t length) {
    return fallocate(fd, 0, offset, length);
}
#endif
#endif

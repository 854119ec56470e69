#ifndef SMX_CLINUXSHIMS_SHIM_H
#define SMX_CLINUXSHIMS_SHIM_H
// Linux calls that Swift's Glibc module does not import because glibc declares them only
// under _GNU_SOURCE. IO/Syscalls.swift and the incoming log's threads use this module.
#if defined(__linux__)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>

/// fallocate(2) with mode 0: reserve [offset, offset + length), extending the size.
static inline int smx_fallocate(int fd, off_t offset, off_t length) {
    return fallocate(fd, 0, offset, length);
}

/// Names the calling thread (at most 15 bytes are kept), for debuggers and `top -H`.
static inline int smx_set_current_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
#endif
#endif

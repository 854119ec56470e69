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

/// sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE): starts writeback of the
/// range's dirty pages without waiting for it (and without flushing metadata or the
/// device cache: no durability).
static inline int smx_start_writeback(int fd, off_t offset, off_t length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

/// The lock description of [start, start + length) for the F_OFD_* calls below.
static inline struct flock smx_ofd_range(int type, off_t start, off_t length) {
    struct flock lock = {0};
    lock.l_type = (short)type;
    lock.l_whence = SEEK_SET;
    lock.l_start = start;
    lock.l_len = length;
    lock.l_pid = 0;
    return lock;
}

/// fcntl(fd, F_OFD_SETLK, ...) on [start, start + length) (length 0: from start to the end
/// of the file, however far it grows); type is F_RDLCK, F_WRLCK or F_UNLCK. An
/// open-file-description lock: owned by the open file description, not the process.
/// Never waits: -1 with EAGAIN (or EACCES) while another description holds a conflicting lock.
static inline int smx_ofd_setlk(int fd, int type, off_t start, off_t length) {
    struct flock lock = smx_ofd_range(type, start, length);
    return fcntl(fd, F_OFD_SETLK, &lock);
}

/// fcntl(fd, F_OFD_GETLK, ...): whether a lock of `type` (F_RDLCK or F_WRLCK) on
/// [start, start + length) would conflict with a lock of another open file description.
/// Returns 0 with *conflict set to the conflicting lock's type (F_UNLCK: none), or -1.
static inline int smx_ofd_getlk(int fd, int type, off_t start, off_t length, int *conflict) {
    struct flock lock = smx_ofd_range(type, start, length);
    int result = fcntl(fd, F_OFD_GETLK, &lock);
    if (result == 0) { *conflict = lock.l_type; }
    return result;
}

/// Names the calling thread (at most 15 bytes are kept), for debuggers and `top -H`.
static inline int smx_set_current_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
#endif
#endif

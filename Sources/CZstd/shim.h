#ifndef SMX_CZSTD_SHIM_H
#define SMX_CZSTD_SHIM_H
#include <zstd.h>
#include <zstd_errors.h>
#endif

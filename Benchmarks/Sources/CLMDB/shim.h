#ifndef SMX_BENCH_CLMDB_SHIM_H
#define SMX_BENCH_CLMDB_SHIM_H
#include <lmdb.h>
#endif

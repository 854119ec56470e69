#ifndef SMX_CXXHASH_SHIM_H
#define SMX_CXXHASH_SHIM_H
#include <xxhash.h>
#endif

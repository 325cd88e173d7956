/* A libcuda.so stand-in in C, for tests/test_gpu_driver_abi.py: keir's ctypes declarations of
 * the CUDA driver API meet real C functions with the driver's prototypes, so a wrong argtype
 * (a 32-bit CUdeviceptr or size_t, a missing argument) corrupts values the test checks.
 * Like the driver, it keeps the current context per thread and refuses calls without one.
 * Device memory is host memory; a launch hands the decoded launch to a Python callback. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;

enum { OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, INVALID_DEVICE = 101,
       INVALID_CONTEXT = 201, INVALID_PTX = 218, NOT_FOUND = 500 };

static int primary_context;
static __thread CUcontext current;
static size_t free_bytes = (size_t)6 << 32; /* above 4 GiB: a 32-bit size_t would show */
static long live_allocations;
static long copies, synchronizes; /* host <-> device copies, cuCtxSynchronize calls */
static void *last_stream = (void *)-1;

typedef struct { const char *image; char name[256]; } Function;
typedef void (*LaunchCallback)(const char *image, const char *name, unsigned grid,
                               unsigned block, unsigned shared, void **params);
static LaunchCallback on_launch;

void fake_set_launch(LaunchCallback cb) { on_launch = cb; }
void fake_set_free_bytes(unsigned long long n) { free_bytes = (size_t)n; }
long fake_live_allocations(void) { return live_allocations; }
long fake_copies(void) { return copies; }
long fake_synchronizes(void) { return synchronizes; }
void *fake_last_stream(void) { return last_stream; }

#define NEED_CONTEXT if (current != &primary_context) return INVALID_CONTEXT

CUresult cuInit(unsigned flags) { return flags == 0 ? OK : INVALID_VALUE; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return OK; }
CUresult cuDeviceGet(CUdevice *d, int ordinal) {
    if (ordinal != 0) return INVALID_DEVICE;
    *d = 0;
    return OK;
}
CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
    if (d != 0 || len < 16) return INVALID_VALUE;
    strcpy(name, "Fake C GPU");
    return OK;
}
CUresult cuDeviceGetAttribute(int *value, int attribute, CUdevice d) {
    if (d != 0) return INVALID_DEVICE;
    *value = attribute == 75 ? 9 : attribute == 76 ? 0 : -1;
    return attribute == 75 || attribute == 76 ? OK : INVALID_VALUE;
}
CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice d) {
    if (d != 0) return INVALID_DEVICE;
    *ctx = &primary_context;
    return OK;
}
CUresult cuCtxSetCurrent(CUcontext ctx) {
    if (ctx != NULL && ctx != &primary_context) return INVALID_CONTEXT;
    current = ctx;
    return OK;
}
CUresult cuCtxSynchronize(void) { NEED_CONTEXT; synchronizes++; return OK; }
CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
    NEED_CONTEXT;
    *free = free_bytes;
    *total = free_bytes * 2;
    return OK;
}
CUresult cuMemAlloc_v2(CUdeviceptr *address, size_t n) {
    NEED_CONTEXT;
    if (n == 0) return INVALID_VALUE; /* as the driver: cuMemAlloc of 0 bytes fails */
    void *p = malloc(n);
    if (!p) return OUT_OF_MEMORY;
    *address = (CUdeviceptr)(uintptr_t)p;
    live_allocations++;
    return OK;
}
CUresult cuMemFree_v2(CUdeviceptr address) {
    NEED_CONTEXT;
    free((void *)(uintptr_t)address);
    live_allocations--;
    return OK;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
    NEED_CONTEXT;
    copies++;
    memcpy((void *)(uintptr_t)dst, src, n);
    return OK;
}
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
    NEED_CONTEXT;
    copies++;
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return OK;
}
/* options 5 / 6: CU_JIT_ERROR_LOG_BUFFER and its size, passed by value in the void* slot */
CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned n, int *options,
                            void **values) {
    NEED_CONTEXT;
    char *log = NULL;
    size_t size = 0;
    for (unsigned k = 0; k < n; k++) {
        if (options[k] == 5) log = values[k];
        if (options[k] == 6) size = (size_t)(uintptr_t)values[k];
    }
    if (strncmp(image, "BAD", 3) == 0) {
        if (log && size > 40) strcpy(log, "ptxas fatal: fake syntax error on line 1");
        return INVALID_PTX;
    }
    *module = strdup(image);
    return OK;
}
CUresult cuModuleGetFunction(CUfunction *fn, CUmodule module, const char *name) {
    NEED_CONTEXT;
    Function *f = malloc(sizeof(Function));
    f->image = module;
    strncpy(f->name, name, sizeof(f->name) - 1);
    f->name[sizeof(f->name) - 1] = 0;
    *fn = f;
    return OK;
}
CUresult cuLaunchKernel(CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned shared, CUstream stream,
                        void **params, void **extra) {
    NEED_CONTEXT;
    if (gx == 0 || gy != 1 || gz != 1 || bx == 0 || by != 1 || bz != 1 || extra != NULL)
        return INVALID_VALUE;
    Function *f = fn;
    last_stream = stream;
    on_launch(f->image, f->name, gx, bx, shared, params);
    return OK;
}
static const char *name_of(CUresult e) {
    switch (e) {
    case INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
    case INVALID_CONTEXT: return "CUDA_ERROR_INVALID_CONTEXT";
    case INVALID_PTX: return "CUDA_ERROR_INVALID_PTX";
    default: return NULL;
    }
}
CUresult cuGetErrorName(CUresult e, const char **s) {
    *s = name_of(e);
    return *s ? OK : INVALID_VALUE;
}
CUresult cuGetErrorString(CUresult e, const char **s) {
    *s = name_of(e) ? "the fake C driver refused" : NULL;
    return *s ? OK : INVALID_VALUE;
}

/*
 * holoremote test OpenXR runtime: the C face of a runtime whose body is Python.
 *
 * The Khronos loader dlopen()s this library (named by a runtime manifest), calls
 * xrNegotiateLoaderRuntimeInterface, and from then on reaches every runtime function
 * through the getInstanceProcAddr handed back here. That function forwards to a Python
 * implementation installed with holoremote_test_runtime_set_proc_addr().
 *
 * Two ways the Python side gets installed:
 *  - a test process loads this same file with ctypes (absolute path, RTLD_GLOBAL) and
 *    calls the setter before the loader is first used, so both see one loaded copy;
 *  - in any other Python process (the `holoremote` CLI run as a subprocess) nobody
 *    has called the setter, so on first use this library runs `bootstrap.py` from its
 *    own folder through the CPython API of the host process (found with dlsym, so no
 *    link against libpython is needed). That script installs the Python side.
 *
 * It also offers holoremote_test_runtime_call_on_new_thread(): run one callback of the
 * application on a thread created here with pthreads (never seen by Python before), as
 * a runtime written in C or C++ calls the callbacks from its own threads. ctypes must
 * then make a fresh Python thread state for the call.
 *
 * Nothing here knows OpenXR beyond the negotiation structs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int32_t XrResult;
typedef uint64_t XrVersion;
typedef struct XrInstance_T *XrInstance;
typedef void (*PFN_xrVoidFunction)(void);
typedef XrResult (*PFN_xrGetInstanceProcAddr)(XrInstance, const char *, PFN_xrVoidFunction *);

#define XR_SUCCESS 0
#define XR_ERROR_RUNTIME_FAILURE (-2)
#define XR_ERROR_INITIALIZATION_FAILED (-6)

/* openxr_loader_negotiation.h */
enum {
    XR_LOADER_INTERFACE_STRUCT_LOADER_INFO = 1,
    XR_LOADER_INTERFACE_STRUCT_RUNTIME_REQUEST = 3,
};
#define XR_LOADER_INFO_STRUCT_VERSION 1
#define XR_RUNTIME_INFO_STRUCT_VERSION 1
#define XR_CURRENT_LOADER_RUNTIME_VERSION 1
#define XR_VERSION_MAJOR(v) ((uint16_t)(((uint64_t)(v) >> 48) & 0xffffULL))
#define XR_VERSION_MINOR(v) ((uint16_t)(((uint64_t)(v) >> 32) & 0xffffULL))
#define XR_MAKE_VERSION(major, minor, patch) \
    ((((major) & 0xffffULL) << 48) | (((minor) & 0xffffULL) << 32) | ((patch) & 0xffffffffULL))

typedef struct XrNegotiateLoaderInfo {
    int32_t structType;
    uint32_t structVersion;
    size_t structSize;
    uint32_t minInterfaceVersion;
    uint32_t maxInterfaceVersion;
    XrVersion minApiVersion;
    XrVersion maxApiVersion;
} XrNegotiateLoaderInfo;

typedef struct XrNegotiateRuntimeRequest {
    int32_t structType;
    uint32_t structVersion;
    size_t structSize;
    uint32_t runtimeInterfaceVersion;
    XrVersion runtimeApiVersion;
    PFN_xrGetInstanceProcAddr getInstanceProcAddr;
} XrNegotiateRuntimeRequest;

#define EXPORT __attribute__((visibility("default")))

/* The newest API this runtime implements: 1.1 (it accepts 1.0 and 1.1 instances). */
static const XrVersion kNewestApi = XR_MAKE_VERSION(1, 1, 0);

static PFN_xrGetInstanceProcAddr python_proc_addr = NULL;
static pthread_mutex_t bootstrap_lock = PTHREAD_MUTEX_INITIALIZER;
static int bootstrap_tried = 0;
static XrVersion negotiated_api = 0;

EXPORT void holoremote_test_runtime_set_proc_addr(PFN_xrGetInstanceProcAddr function) {
    __atomic_store_n(&python_proc_addr, function, __ATOMIC_SEQ_CST);
}

EXPORT XrVersion holoremote_test_runtime_negotiated_api_version(void) {
    return negotiated_api;
}

/* Run <folder of this library>/bootstrap.py in the host Python, once. */
static void bootstrap_python(void) {
    typedef int (*PFN_int_void)(void);
    typedef void (*PFN_void_int)(int);
    typedef int (*PFN_int_cstr)(const char *);
    Dl_info info;
    char code[8192];
    char hex[4096];
    const char *path;
    size_t length, index, used = 0;

    pthread_mutex_lock(&bootstrap_lock);
    if (bootstrap_tried || __atomic_load_n(&python_proc_addr, __ATOMIC_SEQ_CST)) {
        pthread_mutex_unlock(&bootstrap_lock);
        return;
    }
    bootstrap_tried = 1;
    pthread_mutex_unlock(&bootstrap_lock);

    PFN_int_void is_initialized = (PFN_int_void)dlsym(RTLD_DEFAULT, "Py_IsInitialized");
    PFN_int_void gil_ensure = (PFN_int_void)dlsym(RTLD_DEFAULT, "PyGILState_Ensure");
    PFN_void_int gil_release = (PFN_void_int)dlsym(RTLD_DEFAULT, "PyGILState_Release");
    PFN_int_cstr run_string = (PFN_int_cstr)dlsym(RTLD_DEFAULT, "PyRun_SimpleString");
    if (!is_initialized || !gil_ensure || !gil_release || !run_string || !is_initialized()) {
        fprintf(stderr, "holoremote test runtime: not inside a Python process; nothing to run\n");
        return;
    }
    if (!dladdr((void *)&bootstrap_python, &info) || !info.dli_fname) {
        fprintf(stderr, "holoremote test runtime: cannot find its own path\n");
        return;
    }
    path = info.dli_fname;
    length = strlen(path);
    if (length * 2 + 1 > sizeof(hex)) {
        fprintf(stderr, "holoremote test runtime: library path too long\n");
        return;
    }
    for (index = 0; index < length; ++index) {
        used += (size_t)snprintf(hex + used, sizeof(hex) - used, "%02x", (unsigned char)path[index]);
    }
    /* The path travels as hex so that no quoting can break the Python source. */
    snprintf(code, sizeof(code),
             "import os as _o, runpy as _r\n"
             "_p = bytes.fromhex('%s').decode()\n"
             "_r.run_path(_o.path.join(_o.path.dirname(_p), 'bootstrap.py'),"
             " init_globals={'LIBRARY_PATH': _p}, run_name='__holoremote_test_runtime__')\n",
             hex);
    int state = gil_ensure();
    if (run_string(code) != 0) {
        fprintf(stderr, "holoremote test runtime: bootstrap.py failed\n");
    }
    gil_release(state);
}

static XrResult shim_get_instance_proc_addr(XrInstance instance, const char *name,
                                            PFN_xrVoidFunction *function) {
    PFN_xrGetInstanceProcAddr target = __atomic_load_n(&python_proc_addr, __ATOMIC_SEQ_CST);
    if (!target) {
        bootstrap_python();
        target = __atomic_load_n(&python_proc_addr, __ATOMIC_SEQ_CST);
    }
    if (!target) {
        if (function) {
            *function = NULL;
        }
        return XR_ERROR_RUNTIME_FAILURE;
    }
    return target(instance, name, function);
}

EXPORT XrResult xrNegotiateLoaderRuntimeInterface(const XrNegotiateLoaderInfo *loaderInfo,
                                                  XrNegotiateRuntimeRequest *runtimeRequest) {
    if (!loaderInfo || !runtimeRequest ||
        loaderInfo->structType != XR_LOADER_INTERFACE_STRUCT_LOADER_INFO ||
        loaderInfo->structVersion != XR_LOADER_INFO_STRUCT_VERSION ||
        loaderInfo->structSize != sizeof(XrNegotiateLoaderInfo) ||
        runtimeRequest->structType != XR_LOADER_INTERFACE_STRUCT_RUNTIME_REQUEST ||
        runtimeRequest->structVersion != XR_RUNTIME_INFO_STRUCT_VERSION ||
        runtimeRequest->structSize != sizeof(XrNegotiateRuntimeRequest)) {
        return XR_ERROR_INITIALIZATION_FAILED;
    }
    if (loaderInfo->minInterfaceVersion > XR_CURRENT_LOADER_RUNTIME_VERSION ||
        loaderInfo->maxInterfaceVersion < XR_CURRENT_LOADER_RUNTIME_VERSION) {
        return XR_ERROR_INITIALIZATION_FAILED;
    }
    /* Answer with the newest version both sides know, within major version 1. */
    XrVersion api = loaderInfo->maxApiVersion;
    if (XR_VERSION_MAJOR(api) != 1 || XR_VERSION_MINOR(api) > XR_VERSION_MINOR(kNewestApi)) {
        api = kNewestApi;
    }
    if (api < loaderInfo->minApiVersion) {
        return XR_ERROR_INITIALIZATION_FAILED;
    }
    negotiated_api = api;
    runtimeRequest->runtimeInterfaceVersion = XR_CURRENT_LOADER_RUNTIME_VERSION;
    runtimeRequest->runtimeApiVersion = api;
    runtimeRequest->getInstanceProcAddr = shim_get_instance_proc_addr;
    return XR_SUCCESS;
}

/* --- callbacks on a thread of our own ------------------------------------------------ */

typedef XrResult (*PFN_callback)(void *);

typedef struct CallOnThread {
    PFN_callback function;
    void *argument;
    XrResult result;
    uint64_t native_id;
} CallOnThread;

static uint64_t calls_on_own_threads = 0;

static void *call_on_thread_main(void *raw) {
    CallOnThread *call = (CallOnThread *)raw;
    call->native_id = (uint64_t)syscall(SYS_gettid);
    call->result = call->function(call->argument);
    return NULL;
}

/* Call function(argument) on a new pthread and wait for it; the thread's kernel id goes
 * to *native_id_out (if given). XR_ERROR_RUNTIME_FAILURE if no thread can be made. */
EXPORT XrResult holoremote_test_runtime_call_on_new_thread(PFN_callback function, void *argument,
                                                           uint64_t *native_id_out) {
    pthread_t thread;
    CallOnThread call = {function, argument, XR_ERROR_RUNTIME_FAILURE, 0};
    if (!function) {
        return XR_ERROR_RUNTIME_FAILURE;
    }
    if (pthread_create(&thread, NULL, call_on_thread_main, &call) != 0) {
        return XR_ERROR_RUNTIME_FAILURE;
    }
    if (pthread_join(thread, NULL) != 0) {
        return XR_ERROR_RUNTIME_FAILURE;
    }
    __atomic_add_fetch(&calls_on_own_threads, 1, __ATOMIC_SEQ_CST);
    if (native_id_out) {
        *native_id_out = call.native_id;
    }
    return call.result;
}

EXPORT uint64_t holoremote_test_runtime_calls_on_own_threads(void) {
    return __atomic_load_n(&calls_on_own_threads, __ATOMIC_SEQ_CST);
}

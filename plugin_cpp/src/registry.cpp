// The creator singletons, the logger, and registration in TensorRT's plugin
// registry. The exported entry points are Rust (src/plugin/registration.rs);
// they call the tln_* functions here.
#include "plugin.h"
#include "trt_layernorm.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <new>
#include <string>

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" // IPluginCreator (version "1"): see plugin.h
#endif

#define TLN_STR2(x) #x
#define TLN_STR(x) TLN_STR2(x)

namespace tln
{

using namespace nvinfer1;

namespace
{

// ---------------------------------------------------------------------------
// Logger: the one given to initTrtLayerNormPlugins, else the one TensorRT's
// ILoggerFinder finds (loadLibrary path), else TensorRT's getLogger().
// ---------------------------------------------------------------------------

std::atomic<ILogger*> gExplicitLogger{nullptr};
std::atomic<ILoggerFinder*> gLoggerFinder{nullptr};
std::atomic<ILogger*> gLibraryLogger{nullptr};

ILogger* currentLogger() noexcept
{
    if (ILogger* l = gExplicitLogger.load())
    {
        return l;
    }
    if (ILoggerFinder* f = gLoggerFinder.load())
    {
        try
        {
            if (ILogger* l = f->findLogger())
            {
                return l;
            }
        }
        catch (...)
        {
        }
    }
    return gLibraryLogger.load();
}

// Writes `prefix` + `text` (messages from Rust carry their plugin's name already).
void writeLog(ILogger::Severity severity, char const* prefix, char const* text, size_t len) noexcept
{
    try
    {
        std::string line(prefix);
        line.append(text, len);
        if (ILogger* l = currentLogger())
        {
            l->log(severity, line.c_str());
        }
        else if (severity <= ILogger::Severity::kWARNING)
        {
            std::fprintf(stderr, "%s\n", line.c_str());
        }
    }
    catch (...)
    {
    }
}

// Library-level messages (registration), not about one plugin.
constexpr char const* kLibraryPrefix = "trt-layernorm: ";

void logVerbose(char const* msg) noexcept
{
    writeLog(ILogger::Severity::kVERBOSE, kLibraryPrefix, msg, std::strlen(msg));
}

void logWarning(std::string const& msg) noexcept
{
    writeLog(ILogger::Severity::kWARNING, kLibraryPrefix, msg.data(), msg.size());
}

void logLibraryError(char const* msg) noexcept
{
    writeLog(ILogger::Severity::kERROR, kLibraryPrefix, msg, std::strlen(msg));
}

// ---------------------------------------------------------------------------
// Creators: one per interface and kind (index k: kKinds[k]), never destroyed
// (TensorRT may hold them until after this library's static destructors would run).
// ---------------------------------------------------------------------------

static_assert(kNbKinds == 3, "Creators lists one creator per kind");

struct Creators
{
    NormPluginV2Creator v2[kNbKinds]{
        NormPluginV2Creator(kKinds[0]), NormPluginV2Creator(kKinds[1]), NormPluginV2Creator(kKinds[2])};
#if TLN_HAS_V3
    NormPluginV3Creator v3[kNbKinds]{
        NormPluginV3Creator(kKinds[0]), NormPluginV3Creator(kKinds[1]), NormPluginV3Creator(kKinds[2])};
#endif
};

Creators& creators() noexcept
{
    alignas(Creators) static unsigned char storage[sizeof(Creators)];
    static Creators* const instance = new (storage) Creators();
    return *instance;
}

// ---------------------------------------------------------------------------
// Finding TensorRT in this process, without linking it.
// ---------------------------------------------------------------------------

using GetRegistryFn = IPluginRegistry* (*) ();
using GetLoggerFn = ILogger* (*) ();
using GetIntFn = int32_t (*)();

struct TensorRT
{
    IPluginRegistry* registry{nullptr};
    int32_t major{-1};
};

// The TensorRT library that exports getPluginRegistry: from the global scope
// (trtexec, C++ applications), else an already loaded libnvinfer of the major
// version these headers are from (Python loads it with RTLD_LOCAL).
TensorRT findTensorRT() noexcept
{
    void* handle = RTLD_DEFAULT;
    void* sym = dlsym(RTLD_DEFAULT, "getPluginRegistry");
    void* opened = nullptr;
    if (sym == nullptr)
    {
        char const* const sonames[] = {"libnvinfer.so." TLN_STR(NV_TENSORRT_MAJOR),
            "libnvinfer_lean.so." TLN_STR(NV_TENSORRT_MAJOR), "libnvinfer_dispatch.so." TLN_STR(NV_TENSORRT_MAJOR)};
        for (char const* soname : sonames)
        {
            opened = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
            if (opened != nullptr)
            {
                sym = dlsym(opened, "getPluginRegistry");
                if (sym != nullptr)
                {
                    handle = opened;
                    break;
                }
                dlclose(opened);
                opened = nullptr;
            }
        }
    }
    if (sym == nullptr)
    {
        // Another major's TensorRT (loaded privately)? Only to refuse it by name below.
        for (int32_t major = 8; major <= 12 && sym == nullptr; ++major)
        {
            for (char const* stem : {"libnvinfer.so.", "libnvinfer_lean.so.", "libnvinfer_dispatch.so."})
            {
                std::string const soname = stem + std::to_string(major);
                opened = major == NV_TENSORRT_MAJOR ? nullptr : dlopen(soname.c_str(), RTLD_NOW | RTLD_NOLOAD);
                if (opened != nullptr)
                {
                    sym = dlsym(opened, "getPluginRegistry");
                    if (sym != nullptr)
                    {
                        handle = opened;
                        break;
                    }
                    dlclose(opened);
                    opened = nullptr;
                }
            }
        }
    }
    TensorRT trt;
    if (sym != nullptr)
    {
        if (void* m = dlsym(handle, "getInferLibMajorVersion"))
        {
            trt.major = reinterpret_cast<GetIntFn>(m)();
        }
        else if (void* v = dlsym(handle, "getInferLibVersion"))
        {
            int32_t const version = reinterpret_cast<GetIntFn>(v)();
            trt.major = version >= 100000 ? version / 10000 : version / 1000;
        }
        if (trt.major == NV_TENSORRT_MAJOR)
        {
            trt.registry = reinterpret_cast<GetRegistryFn>(sym)();
            if (gLibraryLogger.load() == nullptr)
            {
                if (void* l = dlsym(handle, "getLogger"))
                {
                    gLibraryLogger.store(reinterpret_cast<GetLoggerFn>(l)());
                }
            }
        }
        else
        {
            logWarning("this library was built for TensorRT " TLN_STR(NV_TENSORRT_MAJOR) ".x but the process has TensorRT "
                + std::to_string(trt.major) + ".x; its creators are not registered (rebuild against that version's headers)");

        }
    }
    if (opened != nullptr)
    {
        dlclose(opened); // drops only the reference RTLD_NOLOAD took; the library stays loaded
    }
    return trt;
}

// ---------------------------------------------------------------------------
// Registration this library made itself (at load time or in
// initTrtLayerNormPlugins), so that it can step aside for loadLibrary and be
// undone on unload.
// ---------------------------------------------------------------------------

struct OwnRegistration
{
    std::mutex mutex;
    IPluginRegistry* registry{nullptr};
    bool v2[kNbKinds]{};
    bool v3[kNbKinds]{};
};

OwnRegistration& own() noexcept
{
    alignas(OwnRegistration) static unsigned char storage[sizeof(OwnRegistration)];
    static OwnRegistration* const instance = new (storage) OwnRegistration();
    return *instance;
}

bool registerV2(IPluginRegistry& registry, size_t k, char const* ns) noexcept
{
#if NV_TENSORRT_MAJOR >= 10
    return registry.registerCreator(static_cast<IPluginCreatorInterface&>(creators().v2[k]), ns);
#else
    return registry.registerCreator(creators().v2[k], ns);
#endif
}

void deregisterV2(IPluginRegistry& registry, size_t k) noexcept
{
#if NV_TENSORRT_MAJOR >= 10
    registry.deregisterCreator(static_cast<IPluginCreatorInterface const&>(creators().v2[k]));
#else
    registry.deregisterCreator(creators().v2[k]);
#endif
}

// Whether `creator` is in the registry's list. (Not getCreator: the 10.x/11.x
// registries keep answering a name they have looked up before, even after the
// creator was deregistered, and for other namespaces.)
bool listed(IPluginRegistry& registry, void const* creator) noexcept
{
    int32_t n = 0;
#if NV_TENSORRT_MAJOR >= 10
    IPluginCreatorInterface* const* all = registry.getAllCreators(&n);
#else
    IPluginCreator* const* all = registry.getPluginCreatorList(&n);
#endif
    for (int32_t i = 0; all != nullptr && i < n; ++i)
    {
        if (static_cast<void const*>(all[i]) == creator)
        {
            return true;
        }
    }
    return false;
}

void const* asListed(NormPluginV2Creator& c) noexcept
{
#if NV_TENSORRT_MAJOR >= 10
    return static_cast<IPluginCreatorInterface*>(&c);
#else
    return static_cast<IPluginCreator*>(&c);
#endif
}

#if TLN_HAS_V3
bool registerV3(IPluginRegistry& registry, size_t k, char const* ns) noexcept
{
    return registry.registerCreator(creators().v3[k], ns);
}

void deregisterV3(IPluginRegistry& registry, size_t k) noexcept
{
    registry.deregisterCreator(creators().v3[k]);
}

void const* asListed(NormPluginV3Creator& c) noexcept
{
    return static_cast<IPluginCreatorInterface*>(&c);
}
#endif

// Removes this library's own registrations; the caller holds own().mutex.
void stepAsideLocked() noexcept
{
    OwnRegistration& r = own();
    for (size_t k = 0; k < kNbKinds; ++k)
    {
        if (r.registry != nullptr && r.v2[k])
        {
            deregisterV2(*r.registry, k);
        }
#if TLN_HAS_V3
        if (r.registry != nullptr && r.v3[k])
        {
            deregisterV3(*r.registry, k);
        }
        r.v3[k] = false;
#endif
        r.v2[k] = false;
    }
    r.registry = nullptr;
}

void warnAlreadyRegistered(size_t k, char const* version, char const* ns) noexcept
{
    logWarning(std::string("a creator named ") + pluginName(kKinds[k]) + " version " + version
        + " is already registered in namespace \"" + ns + "\" (another copy of this library?); that one stays in use");
}

// Registers every creator (each interface, each kind) under `ns`; the caller
// holds own().mutex and has made sure none of them is registered under
// another namespace. Returns true when all are registered (by this call or before).
bool registerAllLocked(IPluginRegistry& registry, char const* ns) noexcept
{
    OwnRegistration& r = own();
    bool ok = true;
    for (size_t k = 0; k < kNbKinds; ++k)
    {
        if (!listed(registry, asListed(creators().v2[k])))
        {
            creators().v2[k].setPluginNamespace(ns);
            if (registerV2(registry, k, ns))
            {
                r.registry = &registry;
                r.v2[k] = true;
            }
            else
            {
                ok = false;
                warnAlreadyRegistered(k, kVersionV2, ns);
            }
        }
#if TLN_HAS_V3
        if (!listed(registry, asListed(creators().v3[k])))
        {
            creators().v3[k].setNamespace(ns);
            if (registerV3(registry, k, ns))
            {
                r.registry = &registry;
                r.v3[k] = true;
            }
            else
            {
                ok = false;
                warnAlreadyRegistered(k, kVersionV3, ns);
            }
        }
#endif
    }
    return ok;
}

// Whether any of our creators is registered (by anyone) under a namespace other than `ns`.
bool listedElsewhere(IPluginRegistry& registry, char const* ns) noexcept
{
    bool other = false;
    for (size_t k = 0; k < kNbKinds; ++k)
    {
        other = other
            || (listed(registry, asListed(creators().v2[k]))
                && std::strcmp(creators().v2[k].getPluginNamespace(), ns) != 0);
#if TLN_HAS_V3
        other = other
            || (listed(registry, asListed(creators().v3[k]))
                && std::strcmp(creators().v3[k].getPluginNamespace(), ns) != 0);
#endif
    }
    return other;
}

// Undoes the load-time registration when this library is unloaded (dlclose,
// or process exit: constructed after TensorRT's registry, so destroyed first).
struct UnloadGuard
{
    UnloadGuard() = default;
    UnloadGuard(UnloadGuard const&) = delete;
    UnloadGuard& operator=(UnloadGuard const&) = delete;
    ~UnloadGuard()
    {
        std::lock_guard<std::mutex> lock(own().mutex);
        stepAsideLocked();
    }
};

void ensureUnloadGuard() noexcept
{
    static UnloadGuard guard;
}

} // namespace

void log_message(int32_t severity, rust::Str message) noexcept
{
    writeLog(static_cast<ILogger::Severity>(severity), "", message.data(), message.size());
}

void logError(PluginKind kind, char const* msg) noexcept
{
    try
    {
        std::string const prefix = std::string(pluginName(kind)) + ": ";
        writeLog(ILogger::Severity::kERROR, prefix.c_str(), msg, std::strlen(msg));
    }
    catch (...)
    {
    }
}

} // namespace tln

// ---------------------------------------------------------------------------
// Called by the Rust entry points (src/plugin/registration.rs).
// ---------------------------------------------------------------------------

extern "C" void tln_on_load() noexcept
{
    using namespace tln;
    TensorRT const trt = findTensorRT();
    if (trt.registry == nullptr)
    {
        return; // No TensorRT in the process (yet): loadLibrary or initTrtLayerNormPlugins will register.
    }
    {
        std::lock_guard<std::mutex> lock(own().mutex);
        registerAllLocked(*trt.registry, "");
    }
    ensureUnloadGuard();
    logVerbose("creators registered at load time (namespace \"\")");
}

extern "C" void tln_step_aside() noexcept
{
    using namespace tln;
    std::lock_guard<std::mutex> lock(own().mutex);
    if (own().registry != nullptr)
    {
        stepAsideLocked();
        logVerbose("load-time registration withdrawn: TensorRT's loadLibrary registers the creators");
    }
}

// loadLibrary path: TensorRT is in the process; hand out creators only to the major they were built for.
static bool sameMajorAsProcess(int32_t* nbCreators) noexcept
{
    tln::TensorRT const trt = tln::findTensorRT(); // logs the mismatch
    if (trt.major != -1 && trt.major != NV_TENSORRT_MAJOR)
    {
        *nbCreators = 0;
        return false;
    }
    return true;
}

extern "C" nvinfer1::IPluginCreator* const* tln_plugin_creators(int32_t* nbCreators) noexcept
{
    if (!sameMajorAsProcess(nbCreators))
    {
        return nullptr;
    }
    // Version 1 of every kind.
    struct List
    {
        nvinfer1::IPluginCreator* creators[tln::kNbKinds]{};
        List() noexcept
        {
            for (size_t k = 0; k < tln::kNbKinds; ++k)
            {
                creators[k] = &tln::creators().v2[k];
            }
        }
    };
    static List const list;
    *nbCreators = static_cast<int32_t>(tln::kNbKinds);
    return list.creators;
}

#if TLN_HAS_V3
extern "C" nvinfer1::IPluginCreatorInterface* const* tln_creators(int32_t* nbCreators) noexcept
{
    if (!sameMajorAsProcess(nbCreators))
    {
        return nullptr;
    }
    // Versions 1 and 2 of every kind, kind by kind.
    struct List
    {
        nvinfer1::IPluginCreatorInterface* creators[2 * tln::kNbKinds]{};
        List() noexcept
        {
            for (size_t k = 0; k < tln::kNbKinds; ++k)
            {
                creators[2 * k] = &tln::creators().v2[k];
                creators[2 * k + 1] = &tln::creators().v3[k];
            }
        }
    };
    static List const list;
    *nbCreators = static_cast<int32_t>(2 * tln::kNbKinds);
    return list.creators;
}
#else
extern "C" void* const* tln_creators(int32_t* nbCreators) noexcept
{
    *nbCreators = 0; // TensorRT 8.6 asks getPluginCreators only.
    return nullptr;
}
#endif

extern "C" void tln_set_logger_finder(nvinfer1::ILoggerFinder* finder) noexcept
{
    // ILoggerFinder's layout differs between majors (11 adds IVersionedInterface): keep a
    // finder only from the TensorRT these headers are from (or an unidentifiable one).
    int32_t const major = tln::findTensorRT().major;
    if (finder != nullptr && (major == NV_TENSORRT_MAJOR || major == -1))
    {
        tln::gLoggerFinder.store(finder);
    }
}

extern "C" bool tln_init_plugins(void* logger, char const* pluginNamespace) noexcept
{
    using namespace tln;
    if (logger != nullptr)
    {
        gExplicitLogger.store(static_cast<nvinfer1::ILogger*>(logger));
    }
    char const* ns = pluginNamespace != nullptr ? pluginNamespace : "";
    TensorRT const trt = findTensorRT();
    if (trt.registry == nullptr)
    {
        logLibraryError("initTrtLayerNormPlugins: no TensorRT " TLN_STR(
            NV_TENSORRT_MAJOR) ".x in this process (getPluginRegistry not found); load libnvinfer first");
        return false;
    }
    std::lock_guard<std::mutex> lock(own().mutex);
    // A creator object holds one namespace: move a registration of ours made under another one.
    if (own().registry != nullptr && (own().registry != trt.registry || listedElsewhere(*trt.registry, ns)))
    {
        stepAsideLocked();
    }
    if (listedElsewhere(*trt.registry, ns))
    {
        logLibraryError("initTrtLayerNormPlugins: the creators are registered under another namespace by "
                 "IPluginRegistry::loadLibrary; deregister that library first");
        return false;
    }
    bool const ok = registerAllLocked(*trt.registry, ns);
    ensureUnloadGuard();
    return ok;
}

// Drives libtrt_layernorm.so inside NVIDIA's real plugin registry (the lean
// runtime's libnvinfer_lean.so), as TensorRT would: loading by loadLibrary
// and by dlopen, finding the creators, creating plugins from fields, the
// build-time and run-time calls, serialization, clone, destroy, enqueue.
// Called from tests/plugin_lean_runtime.rs; linked into test executables only.
#include <NvInferRuntime.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" // version "1" is IPluginV2DynamicExt
#endif

using namespace nvinfer1;

namespace
{

// The plugins (kinds) the library registers: index 0 = FP32LayerNorm (X, Scale, Bias),
// 1 = FP32RMSNorm (X, Scale).
constexpr int kLN = 0;
constexpr int kRMS = 1;
constexpr int kNbKinds = 2;
constexpr char const* kNames[kNbKinds] = {"FP32LayerNorm", "FP32RMSNorm"};
constexpr int32_t kMaxInputs[kNbKinds] = {3, 2};

struct Report
{
    char* buf{nullptr};
    size_t cap{0};
    size_t len{0};
    int failures{0};

    void line(char const* fmt, ...) __attribute__((format(printf, 2, 3)))
    {
        if (buf == nullptr || cap == 0)
        {
            return;
        }
        va_list ap;
        va_start(ap, fmt);
        int const n = std::vsnprintf(buf + len, cap - len, fmt, ap);
        va_end(ap);
        if (n > 0)
        {
            len = std::min(cap - 1, len + static_cast<size_t>(n));
        }
        if (len + 1 < cap)
        {
            buf[len++] = '\n';
            buf[len] = '\0';
        }
    }
};

#define CHECK(r, cond, ...)                                                                                            \
    do                                                                                                                 \
    {                                                                                                                  \
        if (!(cond))                                                                                                   \
        {                                                                                                              \
            (r).failures++;                                                                                            \
            (r).line("FAIL %s:%d: %s", __FILE__, __LINE__, #cond);                                                     \
            (r).line(__VA_ARGS__);                                                                                     \
        }                                                                                                              \
    } while (0)

// Captures what the plugin logs (given to it through initTrtLayerNormPlugins).
class CapturingLogger : public ILogger
{
public:
    // Plugins may log from several threads at once (the concurrency test).
    void log(Severity severity, AsciiChar const* msg) noexcept override
    {
        if (severity <= Severity::kWARNING)
        {
            std::lock_guard<std::mutex> lock(mMutex);
            mText += msg;
            mText += '\n';
        }
    }
    bool saw(char const* needle) const
    {
        return mText.find(needle) != std::string::npos;
    }
    void clear()
    {
        mText.clear();
    }
    std::string const& text() const
    {
        return mText;
    }

private:
    std::mutex mMutex;
    std::string mText;
};

struct State
{
    void* lean{nullptr};
    IPluginRegistry* registry{nullptr};
    std::string pluginPath;
    void* plugin{nullptr};  // our dlopen handle, once opened
    void* library{nullptr}; // loadLibrary handle (dlopen-first process)
    CapturingLogger logger;
};

State& state()
{
    static State s;
    return s;
}

using InitFn = bool (*)(void*, char const*);

#if NV_TENSORRT_MAJOR >= 10
IPluginCreator* findV1(char const* ns = "", int kind = kLN)
{
    auto* c = state().registry->getCreator(kNames[kind], "1", ns);
    return c == nullptr ? nullptr : static_cast<IPluginCreator*>(c);
}
IPluginCreatorV3One* findV3(char const* ns = "", int kind = kLN)
{
    auto* c = state().registry->getCreator(kNames[kind], "2", ns);
    return c == nullptr ? nullptr : static_cast<IPluginCreatorV3One*>(c);
}
#else
IPluginCreator* findV1(char const* ns = "", int kind = kLN)
{
    return state().registry->getPluginCreator(kNames[kind], "1", ns);
}
#endif

// Every creator of every kind found.
bool bothFound(char const* ns = "")
{
    bool all = true;
    for (int k = 0; k < kNbKinds; ++k)
    {
#if NV_TENSORRT_MAJOR >= 10
        all = all && findV1(ns, k) != nullptr && findV3(ns, k) != nullptr;
#else
        all = all && findV1(ns, k) != nullptr;
#endif
    }
    return all;
}

bool ourName(char const* name)
{
    return std::strcmp(name, kNames[kLN]) == 0 || std::strcmp(name, kNames[kRMS]) == 0;
}

// How many FP32LayerNorm and FP32RMSNorm creators the registry lists. (getCreator is not used
// for "absent": the 10.x/11.x registries keep answering a name they have
// looked up before even after deregisterLibrary.)
int registeredCount(char const* ns = "")
{
    int32_t n = 0;
    int count = 0;
#if NV_TENSORRT_MAJOR >= 10
    IPluginCreatorInterface* const* all = state().registry->getAllCreators(&n);
    for (int32_t i = 0; all != nullptr && i < n; ++i)
    {
        char const* kind = all[i]->getInterfaceInfo().kind;
        if (std::strcmp(kind, "PLUGIN CREATOR_V1") == 0)
        {
            auto* c = static_cast<IPluginCreator*>(all[i]);
            count += ourName(c->getPluginName()) && std::strcmp(c->getPluginNamespace(), ns) == 0;
        }
        else if (std::strcmp(kind, "PLUGIN CREATOR_V3ONE") == 0)
        {
            auto* c = static_cast<IPluginCreatorV3One*>(all[i]);
            count += ourName(c->getPluginName()) && std::strcmp(c->getPluginNamespace(), ns) == 0;
        }
    }
#else
    IPluginCreator* const* all = state().registry->getPluginCreatorList(&n);
    for (int32_t i = 0; all != nullptr && i < n; ++i)
    {
        count += ourName(all[i]->getPluginName()) && std::strcmp(all[i]->getPluginNamespace(), ns) == 0;
    }
#endif
    return count;
}

constexpr int kCreators = (NV_TENSORRT_MAJOR >= 10 ? 2 : 1) * kNbKinds;

bool noneFound(char const* ns = "")
{
    return registeredCount(ns) == 0;
}

struct Fields
{
    float epsilon{1e-5F};
    int32_t axis{-1};
    int32_t outputType{0};
    std::vector<PluginField> list;
    PluginFieldCollection fc{};

    Fields(float e, int32_t a, int32_t o)
        : epsilon(e)
        , axis(a)
        , outputType(o)
    {
        list.emplace_back("epsilon", &epsilon, PluginFieldType::kFLOAT32, 1);
        list.emplace_back("axis", &axis, PluginFieldType::kINT32, 1);
        list.emplace_back("output_type", &outputType, PluginFieldType::kINT32, 1);
        sync();
    }
    void sync()
    {
        fc.nbFields = static_cast<int32_t>(list.size());
        fc.fields = list.data();
    }
};

PluginTensorDesc desc(DataType t, std::vector<int64_t> const& dims)
{
    PluginTensorDesc d{};
    d.type = t;
    d.format = TensorFormat::kLINEAR;
    d.scale = 1.0F;
    d.dims.nbDims = static_cast<int32_t>(dims.size());
    for (size_t i = 0; i < dims.size(); ++i)
    {
        d.dims.d[i] = static_cast<std::remove_reference_t<decltype(d.dims.d[0])>>(dims[i]);
    }
    return d;
}

DynamicPluginTensorDesc dyn(PluginTensorDesc const& d)
{
    DynamicPluginTensorDesc x{};
    x.desc = d;
    x.min = d.dims;
    x.max = d.dims;
#if NV_TENSORRT_MAJOR >= 10
    x.opt = d.dims;
#endif
    return x;
}

std::vector<uint8_t> serializeV2(IPluginV2DynamicExt const& p)
{
    std::vector<uint8_t> blob(p.getSerializationSize());
    p.serialize(blob.data());
    return blob;
}

// --- Version "1" (IPluginV2DynamicExt) of plugin `kind` through its creator, without a GPU. ---
void checkV1(Report& r, IPluginCreator& creator, int kind)
{
    CapturingLogger& log = state().logger;
    char const* const kName = kNames[kind];
    int32_t const nbIn = kMaxInputs[kind];
    CHECK(r, std::strcmp(creator.getPluginName(), kName) == 0, "name %s", creator.getPluginName());
    CHECK(r, std::strcmp(creator.getPluginVersion(), "1") == 0, "version %s", creator.getPluginVersion());
    PluginFieldCollection const* names = creator.getFieldNames();
    CHECK(r, names != nullptr && names->nbFields == 3, "getFieldNames");
    if (names != nullptr && names->nbFields == 3)
    {
        CHECK(r, std::strcmp(names->fields[0].name, "epsilon") == 0 && names->fields[0].type == PluginFieldType::kFLOAT32,
            "field 0");
        CHECK(r, std::strcmp(names->fields[1].name, "axis") == 0 && names->fields[1].type == PluginFieldType::kINT32,
            "field 1");
        CHECK(r, std::strcmp(names->fields[2].name, "output_type") == 0, "field 2");
    }

    Fields f(1e-6F, -1, 1);
    auto* p = static_cast<IPluginV2DynamicExt*>(creator.createPlugin("ln", &f.fc));
    CHECK(r, p != nullptr, "createPlugin from valid fields returned null: %s", log.text().c_str());
    if (p == nullptr)
    {
        return;
    }
    CHECK(r, std::strcmp(p->getPluginType(), kName) == 0 && std::strcmp(p->getPluginVersion(), "1") == 0, "identity");
    CHECK(r, p->getNbOutputs() == 1, "getNbOutputs");
    CHECK(r, p->initialize() == 0, "initialize");

    // Formats: X f16, Scale f32, Bias f16 (FP32LayerNorm only), Y f32 (output_type 1) at io[nbIn].
    std::vector<int64_t> const x{2, 3, 64};
    std::vector<int64_t> const g{64};
    PluginTensorDesc io[4] = {desc(DataType::kHALF, x), desc(DataType::kFLOAT, g), desc(DataType::kHALF, g),
        desc(DataType::kFLOAT, x)};
    io[nbIn] = desc(DataType::kFLOAT, x);
    for (int32_t pos = 0; pos <= nbIn; ++pos)
    {
        CHECK(r, p->supportsFormatCombination(pos, io, nbIn, 1), "supportsFormatCombination pos %d", pos);
    }
    PluginTensorDesc bad[4] = {io[0], io[1], io[2], io[3]};
    bad[nbIn] = desc(DataType::kHALF, x);
    CHECK(r, !p->supportsFormatCombination(nbIn, bad, nbIn, 1), "Y must be FP32 with output_type 1");
    PluginTensorDesc i8[2] = {desc(DataType::kINT8, x), desc(DataType::kFLOAT, x)};
    CHECK(r, !p->supportsFormatCombination(0, i8, 1, 1), "INT8 X refused");
    PluginTensorDesc chw[2] = {desc(DataType::kFLOAT, x), desc(DataType::kFLOAT, x)};
    chw[0].format = TensorFormat::kCHW32;
    CHECK(r, !p->supportsFormatCombination(0, chw, 1, 1), "non-linear format refused");
    DataType const inTypes[3] = {DataType::kHALF, DataType::kFLOAT, DataType::kFLOAT};
    CHECK(r, p->getOutputDataType(0, inTypes, nbIn) == DataType::kFLOAT, "getOutputDataType");
    CHECK(r, p->getWorkspaceSize(io, nbIn, io + nbIn, 1) == 0, "workspace");

    DynamicPluginTensorDesc din[3] = {dyn(io[0]), dyn(io[1]), dyn(io[2])};
    DynamicPluginTensorDesc dout[1] = {dyn(io[nbIn])};
    log.clear();
    p->configurePlugin(din, nbIn, dout, 1);
    CHECK(r, log.text().empty(), "configurePlugin logged: %s", log.text().c_str());
    DynamicPluginTensorDesc badScale[3] = {din[0], dyn(desc(DataType::kFLOAT, {63})), din[2]};
    p->configurePlugin(badScale, nbIn, dout, 1);
    CHECK(r, log.saw("Scale"), "a wrong Scale shape is logged, got: %s", log.text().c_str());
    if (kind == kRMS)
    {
        // No Bias: a third input is refused, and the message names this plugin.
        log.clear();
        DynamicPluginTensorDesc three[3] = {din[0], din[1], din[1]};
        p->configurePlugin(three, 3, dout, 1);
        CHECK(r, log.saw("FP32RMSNorm: configurePlugin: FP32RMSNorm takes 1 to 2 inputs (X, Scale), got 3"),
            "3 inputs refused by name, got: %s", log.text().c_str());
        PluginTensorDesc four[4] = {io[0], io[1], io[1], io[2]};
        CHECK(r, !p->supportsFormatCombination(0, four, 3, 1), "3 inputs: no format combination");
        CHECK(r, p->getOutputDataType(0, inTypes, 3) == DataType::kFLOAT && log.saw("getOutputDataType"),
            "getOutputDataType with 3 inputs is logged");
    }
    p->configurePlugin(din, nbIn, dout, 1);

    // Serialize -> deserialize -> same bytes; clone -> same bytes.
    std::vector<uint8_t> const blob = serializeV2(*p);
    CHECK(r, blob.size() > 16, "blob size %zu", blob.size());
    auto* q = static_cast<IPluginV2DynamicExt*>(creator.deserializePlugin("ln", blob.data(), blob.size()));
    CHECK(r, q != nullptr && serializeV2(*q) == blob, "deserialize round trip");
    IPluginV2DynamicExt* c = p->clone();
    CHECK(r, c != nullptr && serializeV2(*c) == blob, "clone");
    c->setPluginNamespace("ns1");
    CHECK(r, std::strcmp(c->getPluginNamespace(), "ns1") == 0, "namespace");

    // Every truncation and a bit flip in every byte: null, with a logged reason.
    int accepted = 0;
    for (size_t n = 0; n < blob.size(); ++n)
    {
        IPluginV2* t = creator.deserializePlugin("ln", blob.data(), n);
        accepted += t != nullptr;
        if (t != nullptr)
        {
            t->destroy();
        }
    }
    for (size_t i = 0; i < blob.size(); ++i)
    {
        std::vector<uint8_t> b = blob;
        b[i] ^= static_cast<uint8_t>(1U << (i % 8));
        IPluginV2* t = creator.deserializePlugin("ln", b.data(), b.size());
        accepted += t != nullptr;
        if (t != nullptr)
        {
            t->destroy();
        }
    }
    CHECK(r, accepted == 0, "%d corrupt blobs were accepted", accepted);
    CHECK(r, log.saw("deserializePlugin"), "corrupt blobs are logged");

    // Bad fields: null plugin, and the error names the field.
    log.clear();
    Fields unknown(1e-5F, -1, 0);
    unknown.list[0].name = "eps";
    CHECK(r, creator.createPlugin("ln", &unknown.fc) == nullptr && log.saw("`eps`")
            && log.saw((std::string("(") + kName + " takes epsilon, axis, output_type)").c_str()),
        "unknown field: %s", log.text().c_str());
    Fields mistyped(1e-5F, -1, 0);
    mistyped.list[1].type = PluginFieldType::kFLOAT64;
    CHECK(r, creator.createPlugin("ln", &mistyped.fc) == nullptr && log.saw("`axis`"), "mistyped field: %s",
        log.text().c_str());
    Fields negative(-1.0F, -1, 0);
    CHECK(r, creator.createPlugin("ln", &negative.fc) == nullptr && log.saw("`epsilon`"), "negative epsilon");
    Fields outType(1e-5F, -1, 2);
    CHECK(r, creator.createPlugin("ln", &outType.fc) == nullptr && log.saw("`output_type`"), "output_type 2");
    Fields tolerated(1e-5F, -1, 0);
    char const version[] = "1";
    tolerated.list.emplace_back("plugin_version", version, PluginFieldType::kCHAR, 2);
    tolerated.sync();
    IPluginV2* t = creator.createPlugin("ln", &tolerated.fc);
    CHECK(r, t != nullptr, "plugin_version is tolerated");
    if (t != nullptr)
    {
        t->destroy();
    }
    IPluginV2* d = creator.createPlugin("ln", nullptr);
    CHECK(r, d != nullptr, "no fields = defaults");
    if (d != nullptr)
    {
        d->destroy();
    }

    p->terminate();
    if (q != nullptr)
    {
        q->destroy();
    }
    if (c != nullptr)
    {
        c->destroy();
    }
    p->destroy();
}

#if NV_TENSORRT_MAJOR >= 10
struct V3Parts
{
    IPluginV3* plugin{nullptr};
    IPluginV3OneCore* core{nullptr};
    IPluginV3OneBuild* build{nullptr};
    IPluginV3OneRuntime* runtime{nullptr};
};

V3Parts parts(IPluginV3* p)
{
    V3Parts v;
    v.plugin = p;
    if (p != nullptr)
    {
        v.core = static_cast<IPluginV3OneCore*>(p->getCapabilityInterface(PluginCapabilityType::kCORE));
        v.build = static_cast<IPluginV3OneBuild*>(p->getCapabilityInterface(PluginCapabilityType::kBUILD));
        v.runtime = static_cast<IPluginV3OneRuntime*>(p->getCapabilityInterface(PluginCapabilityType::kRUNTIME));
    }
    return v;
}

// Reads back getFieldsToSerialize as (epsilon, axis, output_type).
bool serializedFields(IPluginV3OneRuntime& rt, float& e, int32_t& a, int32_t& o)
{
    PluginFieldCollection const* fc = rt.getFieldsToSerialize();
    if (fc == nullptr || fc->nbFields != 3)
    {
        return false;
    }
    std::memcpy(&e, fc->fields[0].data, 4);
    std::memcpy(&a, fc->fields[1].data, 4);
    std::memcpy(&o, fc->fields[2].data, 4);
    return std::strcmp(fc->fields[0].name, "epsilon") == 0 && std::strcmp(fc->fields[1].name, "axis") == 0
        && std::strcmp(fc->fields[2].name, "output_type") == 0;
}

// --- Version "2" (IPluginV3) of plugin `kind` through its creator, without a GPU. ---
void checkV3(Report& r, IPluginCreatorV3One& creator, int kind)
{
    CapturingLogger& log = state().logger;
    char const* const kName = kNames[kind];
    int32_t const nbIn = kMaxInputs[kind];
    CHECK(r, std::strcmp(creator.getPluginName(), kName) == 0 && std::strcmp(creator.getPluginVersion(), "2") == 0,
        "identity");
    CHECK(r, std::strcmp(creator.getInterfaceInfo().kind, "PLUGIN CREATOR_V3ONE") == 0, "kind");
    Fields f(1e-6F, -2, 0);
    V3Parts v = parts(creator.createPlugin("ln", &f.fc, TensorRTPhase::kBUILD));
    CHECK(r, v.plugin && v.core && v.build && v.runtime, "createPlugin + capabilities: %s", log.text().c_str());
    if (!(v.plugin && v.core && v.build && v.runtime))
    {
        return;
    }
    CHECK(r, std::strcmp(v.core->getPluginName(), kName) == 0 && std::strcmp(v.core->getPluginVersion(), "2") == 0,
        "core identity");
    CHECK(r, v.build->getNbOutputs() == 1, "getNbOutputs");
    std::vector<int64_t> const x{4, 8, 32};
    std::vector<int64_t> const g{8, 32};
    // X bf16, Scale f16, Bias f32 (FP32LayerNorm only), Y bf16 at io[nbIn].
    DynamicPluginTensorDesc io[4] = {dyn(desc(DataType::kBF16, x)), dyn(desc(DataType::kHALF, g)),
        dyn(desc(DataType::kFLOAT, g)), dyn(desc(DataType::kBF16, x))};
    io[nbIn] = dyn(desc(DataType::kBF16, x));
    for (int32_t pos = 0; pos <= nbIn; ++pos)
    {
        CHECK(r, v.build->supportsFormatCombination(pos, io, nbIn, 1), "supportsFormatCombination pos %d", pos);
    }
    DataType const inTypes[3] = {DataType::kBF16, DataType::kHALF, DataType::kFLOAT};
    DataType outType = DataType::kINT8;
    CHECK(r, v.build->getOutputDataTypes(&outType, 1, inTypes, nbIn) == 0 && outType == DataType::kBF16,
        "getOutputDataTypes");
    log.clear();
    CHECK(r, v.build->configurePlugin(io, nbIn, io + nbIn, 1) == 0, "configurePlugin: %s", log.text().c_str());
    if (kind == kLN)
    {
        DynamicPluginTensorDesc badBias[3] = {io[0], io[1], dyn(desc(DataType::kFLOAT, {32}))};
        CHECK(r, v.build->configurePlugin(badBias, 3, io + 3, 1) != 0 && log.saw("Bias"), "bad Bias: %s",
            log.text().c_str());
    }
    else
    {
        DynamicPluginTensorDesc three[3] = {io[0], io[1], io[1]};
        CHECK(r, v.build->configurePlugin(three, 3, io + nbIn, 1) != 0
                && log.saw("FP32RMSNorm takes 1 to 2 inputs (X, Scale), got 3"),
            "3 inputs: %s", log.text().c_str());
        CHECK(r, v.build->getOutputDataTypes(&outType, 1, inTypes, 3) != 0, "getOutputDataTypes with 3 inputs");
    }
    PluginTensorDesc rt[4] = {io[0].desc, io[1].desc, io[2].desc, io[3].desc};
    CHECK(r, v.runtime->onShapeChange(rt, nbIn, rt + nbIn, 1) == 0, "onShapeChange");
    PluginTensorDesc badRt[3] = {rt[0], desc(DataType::kHALF, {4, 32}), rt[2]};
    CHECK(r, v.runtime->onShapeChange(badRt, nbIn, rt + nbIn, 1) != 0, "onShapeChange with a bad Scale");

    float e = 0;
    int32_t a = 0;
    int32_t o = 0;
    CHECK(r, serializedFields(*v.runtime, e, a, o) && e == 1e-6F && a == -2 && o == 0, "getFieldsToSerialize");
    V3Parts w = parts(creator.createPlugin("ln", v.runtime->getFieldsToSerialize(), TensorRTPhase::kRUNTIME));
    CHECK(r, w.runtime != nullptr && serializedFields(*w.runtime, e, a, o) && e == 1e-6F && a == -2 && o == 0,
        "fields -> createPlugin round trip");
    V3Parts c = parts(v.plugin->clone());
    CHECK(r, c.runtime != nullptr && serializedFields(*c.runtime, e, a, o) && a == -2, "clone");
    V3Parts att = parts(v.runtime->attachToContext(nullptr));
    CHECK(r, att.plugin != nullptr, "attachToContext");

    log.clear();
    Fields bad(1e-5F, 9, 0);
    CHECK(r, creator.createPlugin("ln", &bad.fc, TensorRTPhase::kBUILD) == nullptr && log.saw("`axis`")
            && log.saw((std::string(kName) + ": createPlugin (version 2): plugin field `axis`").c_str()),
        "axis 9: %s", log.text().c_str());
    Fields dup(1e-5F, -1, 0);
    dup.list.push_back(dup.list[0]);
    dup.sync();
    CHECK(r, creator.createPlugin("ln", &dup.fc, TensorRTPhase::kBUILD) == nullptr && log.saw("more than once"),
        "duplicate");

    delete v.plugin;
    delete w.plugin;
    delete c.plugin;
    delete att.plugin;
}
#endif

long rssKiB()
{
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr)
    {
        return -1;
    }
    long pages = 0;
    long resident = 0;
    int const n = std::fscanf(f, "%ld %ld", &pages, &resident);
    std::fclose(f);
    return n == 2 ? resident * 4 : -1;
}

void cycle(IPluginCreator& c1
#if NV_TENSORRT_MAJOR >= 10
    ,
    IPluginCreatorV3One& c3
#endif
)
{
    Fields f(1e-5F, -1, 0);
    auto* p = static_cast<IPluginV2DynamicExt*>(c1.createPlugin("ln", &f.fc));
    std::vector<uint8_t> const blob = serializeV2(*p);
    IPluginV2* q = c1.deserializePlugin("ln", blob.data(), blob.size());
    IPluginV2* c = p->clone();
    q->destroy();
    c->destroy();
    p->destroy();
#if NV_TENSORRT_MAJOR >= 10
    IPluginV3* v = c3.createPlugin("ln", &f.fc, TensorRTPhase::kBUILD);
    auto* rt = static_cast<IPluginV3OneRuntime*>(v->getCapabilityInterface(PluginCapabilityType::kRUNTIME));
    IPluginV3* w = c3.createPlugin("ln", rt->getFieldsToSerialize(), TensorRTPhase::kRUNTIME);
    IPluginV3* k = w->clone();
    delete k;
    delete w;
    delete v;
#endif
}

} // namespace

extern "C" int tln_lean_open(char const* leanPath, char const* pluginPath, char* report, size_t reportLen)
{
    Report r{report, reportLen};
    State& s = state();
    // RTLD_LOCAL, as Python loads TensorRT: the plugin must find it without the global scope.
    s.lean = dlopen(leanPath, RTLD_NOW | RTLD_LOCAL);
    if (s.lean == nullptr)
    {
        r.line("cannot dlopen %s: %s", leanPath, dlerror());
        return 2;
    }
    auto getRegistry = reinterpret_cast<IPluginRegistry* (*) ()>(dlsym(s.lean, "getPluginRegistry"));
    auto major = reinterpret_cast<int32_t (*)()>(dlsym(s.lean, "getInferLibMajorVersion"));
    if (getRegistry == nullptr || major == nullptr)
    {
        r.line("%s exports no getPluginRegistry/getInferLibMajorVersion", leanPath);
        return 2;
    }
    if (major() != NV_TENSORRT_MAJOR)
    {
        r.line("%s is TensorRT %d but this harness was built with TensorRT %d headers", leanPath, major(),
            NV_TENSORRT_MAJOR);
        return 2;
    }
    s.registry = getRegistry();
    s.pluginPath = pluginPath;
    r.line("lean runtime: %s (TensorRT %d), registry %p", leanPath, major(), static_cast<void*>(s.registry));
    return s.registry != nullptr ? 0 : 2;
}

// The two load paths, each first in its own process (mode 0: loadLibrary
// first, mode 1: dlopen first), then the other one in the same process, then
// initTrtLayerNormPlugins; ends with the creators registered under "".
extern "C" int tln_lean_load_checks(int32_t mode, char* report, size_t reportLen)
{
    Report r{report, reportLen};
    State& s = state();
    char const* path = s.pluginPath.c_str();
    CHECK(r, noneFound(), "FP32LayerNorm or FP32RMSNorm already registered before loading");

    if (mode == 0)
    {
        // loadLibrary alone (trtexec --dynamicPlugins, engines with serialized plugin libraries).
        void* h = s.registry->loadLibrary(path);
        CHECK(r, h != nullptr, "loadLibrary(%s) alone returned null", path);
        CHECK(r, bothFound() && registeredCount() == kCreators, "creators after loadLibrary");
        r.line("loadLibrary alone: %s", h != nullptr && bothFound() ? "creators found" : "FAILED");
        if (h != nullptr)
        {
            s.registry->deregisterLibrary(h);
        }
        CHECK(r, noneFound(), "creators remain after deregisterLibrary");
        // dlopen after: the library stays loaded (NODELETE), so there is no second load-time
        // registration; initTrtLayerNormPlugins below registers the creators again.
        // (A second loadLibrary of the same path after deregisterLibrary returns null in the
        // 10.x/11.x registries, whatever the library; not tested.)
        s.plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        CHECK(r, s.plugin != nullptr, "dlopen: %s", dlerror());
    }
    else
    {
        // dlopen alone (trtexec --plugins / --staticPlugins): load-time registration.
        s.plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        CHECK(r, s.plugin != nullptr, "dlopen: %s", dlerror());
        CHECK(r, bothFound() && registeredCount() == kCreators, "creators after dlopen (load-time registration)");
        r.line("dlopen alone: %s", bothFound() ? "creators found" : "FAILED");
    }

    // initTrtLayerNormPlugins (C++ builder applications), with our logger; idempotent; namespaces.
    auto init = s.plugin != nullptr ? reinterpret_cast<InitFn>(dlsym(s.plugin, "initTrtLayerNormPlugins")) : nullptr;
    CHECK(r, init != nullptr, "initTrtLayerNormPlugins is exported");
    if (init == nullptr)
    {
        return r.failures;
    }
    if (mode == 0)
    {
        // After loadLibrary + deregisterLibrary, the 10.x/11.x registries refuse any later
        // registration of the same name and version under "" in this process (whatever
        // registers it), so "" is tested in the dlopen-first process only.
        CHECK(r, init(&s.logger, "tln_test") && registeredCount("tln_test") == kCreators && noneFound(""),
            "init under a namespace after deregisterLibrary");
        r.line("initTrtLayerNormPlugins after deregisterLibrary: %s",
            registeredCount("tln_test") == kCreators ? "creators registered" : "FAILED");
        return r.failures;
    }
    CHECK(r, init(&s.logger, "") && registeredCount("") == kCreators, "init over the load-time registration is a no-op");
    CHECK(r, init(&s.logger, "tln_test") && bothFound("tln_test") && registeredCount("tln_test") == kCreators
            && noneFound(""),
        "init under a namespace");
    CHECK(r, init(&s.logger, nullptr) && registeredCount("") == kCreators && noneFound("tln_test"), "init back under \"\"");
    r.line("initTrtLayerNormPlugins: %s", registeredCount() == kCreators ? "creators registered" : "FAILED");

    // loadLibrary after dlopen in the same process; stays loaded until tln_lean_close.
    IPluginCreator* before = findV1();
    s.library = s.registry->loadLibrary(path);
    CHECK(r, s.library != nullptr, "loadLibrary after dlopen returned null");
    CHECK(r, bothFound() && findV1() == before && registeredCount() == kCreators,
        "creators after loadLibrary following dlopen");
    r.line("loadLibrary after dlopen: %s", s.library != nullptr && bothFound() ? "creators found" : "FAILED");
    return r.failures;
}

// deregisterLibrary of the loadLibrary above: no creator may remain.
extern "C" int tln_lean_close(char* report, size_t reportLen)
{
    Report r{report, reportLen};
    State& s = state();
    CHECK(r, s.library != nullptr, "no library handle");
    if (s.library != nullptr)
    {
        s.registry->deregisterLibrary(s.library);
        s.library = nullptr;
    }
    CHECK(r, noneFound(), "creators remain after deregisterLibrary");
    r.line("deregisterLibrary: %s", noneFound() ? "creators gone" : "FAILED");
    return r.failures;
}

// A blob serialized by one plugin's version-1 creator is refused (null, logged) by the other's.
void checkCrossKindBlobs(Report& r, IPluginCreator& from, IPluginCreator& to)
{
    CapturingLogger& log = state().logger;
    Fields f(1e-5F, -1, 0);
    auto* p = static_cast<IPluginV2DynamicExt*>(from.createPlugin("ln", &f.fc));
    CHECK(r, p != nullptr, "createPlugin (%s)", from.getPluginName());
    if (p == nullptr)
    {
        return;
    }
    std::vector<uint8_t> const blob = serializeV2(*p);
    log.clear();
    IPluginV2* q = to.deserializePlugin("ln", blob.data(), blob.size());
    std::string const expected = std::string(to.getPluginName()) + ": deserializePlugin: the serialized plugin is a "
        + from.getPluginName() + " and cannot be read by the " + to.getPluginName() + " creator";
    CHECK(r, q == nullptr && log.saw(expected.c_str()), "a %s blob given to the %s creator: %s", from.getPluginName(),
        to.getPluginName(), log.text().c_str());
    if (q != nullptr)
    {
        q->destroy();
    }
    p->destroy();
}

// The plugins, driven as TensorRT's builder and runtime drive them (creators registered).
extern "C" int tln_lean_plugin_checks(char* report, size_t reportLen)
{
    Report r{report, reportLen};
    for (int k = 0; k < kNbKinds; ++k)
    {
        IPluginCreator* v1 = findV1("", k);
        CHECK(r, v1 != nullptr, "%s version 1 creator", kNames[k]);
        if (v1 != nullptr)
        {
            int const before = r.failures;
            checkV1(r, *v1, k);
            r.line("%s version 1 (IPluginV2DynamicExt): %s", kNames[k], r.failures == before ? "ok" : "FAILED");
        }
#if NV_TENSORRT_MAJOR >= 10
        IPluginCreatorV3One* v3 = findV3("", k);
        CHECK(r, v3 != nullptr, "%s version 2 creator", kNames[k]);
        if (v3 != nullptr)
        {
            int const before = r.failures;
            checkV3(r, *v3, k);
            r.line("%s version 2 (IPluginV3): %s", kNames[k], r.failures == before ? "ok" : "FAILED");
        }
#endif
    }
    IPluginCreator* ln = findV1("", kLN);
    IPluginCreator* rms = findV1("", kRMS);
    if (ln != nullptr && rms != nullptr)
    {
        int const before = r.failures;
        checkCrossKindBlobs(r, *ln, *rms);
        checkCrossKindBlobs(r, *rms, *ln);
        r.line("blobs of one plugin refused by the other's creator: %s", r.failures == before ? "ok" : "FAILED");
    }
    return r.failures;
}

// `cycles` create/clone/serialize/destroy rounds of both versions; host memory must stay flat.
extern "C" int tln_lean_memory_cycles(int32_t cycles, long* rssBeforeKiB, long* rssAfterKiB, char* report, size_t reportLen)
{
    Report r{report, reportLen};
    // Every kind's creators, cycled in turn.
    IPluginCreator* v1[kNbKinds] = {findV1("", kLN), findV1("", kRMS)};
#if NV_TENSORRT_MAJOR >= 10
    IPluginCreatorV3One* v3[kNbKinds] = {findV3("", kLN), findV3("", kRMS)};
    CHECK(r, v1[0] && v1[1] && v3[0] && v3[1], "creators registered");
    if (!(v1[0] && v1[1] && v3[0] && v3[1]))
    {
        return r.failures;
    }
    for (int i = 0; i < 100; ++i)
    {
        cycle(*v1[i % kNbKinds], *v3[i % kNbKinds]); // warm-up: allocator pools, one-time statics
    }
    *rssBeforeKiB = rssKiB();
    for (int i = 0; i < cycles; ++i)
    {
        cycle(*v1[i % kNbKinds], *v3[i % kNbKinds]);
    }
#else
    CHECK(r, v1[0] && v1[1], "creators registered");
    if (!(v1[0] && v1[1]))
    {
        return r.failures;
    }
    for (int i = 0; i < 100; ++i)
    {
        cycle(*v1[i % kNbKinds]);
    }
    *rssBeforeKiB = rssKiB();
    for (int i = 0; i < cycles; ++i)
    {
        cycle(*v1[i % kNbKinds]);
    }
#endif
    *rssAfterKiB = rssKiB();
    r.line("%d create/destroy cycles: RSS %ld KiB -> %ld KiB", cycles, *rssBeforeKiB, *rssAfterKiB);
    return r.failures;
}

// One enqueue case, shared with the Rust test (tests/plugin_lean_runtime.rs).
struct TlnLeanCase
{
    int32_t version; // 1 or 2
    float epsilon;
    int32_t axis;
    int32_t outputType;
    int32_t nbInputs;
    int32_t types[4]; // X, Scale, Bias, Y (TensorRT DataType codes)
    int32_t nbDims;
    int64_t dims[8];
    int32_t paramNbDims;
    int64_t paramDims[8];
    uint64_t inputs[3];
    uint64_t outputs[3]; // original plugin, deserialized / recreated from fields, clone
    uint64_t stream;
    int32_t kind; // 0 = FP32LayerNorm, 1 = FP32RMSNorm (nbInputs <= 2)
};

// A case's tensors as TensorRT describes them to a plugin: io[0..n) the
// inputs, io[n] the output; dio the same as dynamic descriptors.
struct CaseTensors
{
    PluginTensorDesc io[4];
    DynamicPluginTensorDesc dio[4];
    void const* ins[3];

    explicit CaseTensors(TlnLeanCase const& c)
    {
        std::vector<int64_t> const x(c.dims, c.dims + c.nbDims);
        std::vector<int64_t> const g(c.paramDims, c.paramDims + c.paramNbDims);
        io[0] = desc(static_cast<DataType>(c.types[0]), x);
        for (int32_t i = 1; i < c.nbInputs; ++i)
        {
            io[i] = desc(static_cast<DataType>(c.types[i]), g);
        }
        io[c.nbInputs] = desc(static_cast<DataType>(c.types[3]), x);
        for (int32_t i = 0; i <= c.nbInputs; ++i)
        {
            dio[i] = dyn(io[i]);
        }
        for (int32_t i = 0; i < 3; ++i)
        {
            ins[i] = reinterpret_cast<void const*>(c.inputs[i]);
        }
    }
};

// Creates the plugin from the registry, configures and enqueues it (and its
// round-tripped and cloned copies) on the caller's device buffers.
extern "C" int tln_lean_enqueue(TlnLeanCase const* c, char* report, size_t reportLen)
{
    Report r{report, reportLen};
    if (c->kind < 0 || c->kind >= kNbKinds || c->nbInputs < 1 || c->nbInputs > kMaxInputs[c->kind])
    {
        CHECK(r, false, "bad case: kind %d with %d inputs", c->kind, c->nbInputs);
        return r.failures;
    }
    CaseTensors const tensors(*c);
    PluginTensorDesc const* io = tensors.io;
    DynamicPluginTensorDesc const* dio = tensors.dio;
    void const* const* ins = tensors.ins;
    auto stream = reinterpret_cast<cudaStream_t>(c->stream);
    Fields f(c->epsilon, c->axis, c->outputType);
    int32_t const n = c->nbInputs;

    if (c->version == 1)
    {
        IPluginCreator* creator = findV1("", c->kind);
        CHECK(r, creator != nullptr, "version 1 creator");
        if (creator == nullptr)
        {
            return r.failures;
        }
        auto* p = static_cast<IPluginV2DynamicExt*>(creator->createPlugin("ln", &f.fc));
        CHECK(r, p != nullptr, "createPlugin");
        if (p == nullptr)
        {
            return r.failures;
        }
        for (int32_t pos = 0; pos <= n; ++pos)
        {
            CHECK(r, p->supportsFormatCombination(pos, io, n, 1), "supportsFormatCombination(%d)", pos);
        }
        DataType inTypes[3] = {io[0].type, io[1].type, io[2].type};
        CHECK(r, p->getOutputDataType(0, inTypes, n) == io[n].type, "getOutputDataType");
        p->configurePlugin(dio, n, dio + n, 1);
        CHECK(r, p->initialize() == 0, "initialize");
        void* out0[1] = {reinterpret_cast<void*>(c->outputs[0])};
        CHECK(r, p->enqueue(io, io + n, ins, out0, nullptr, stream) == 0, "enqueue: %s",
            state().logger.text().c_str());
        // Deserialized plugin: TensorRT configures it again before enqueue; this one
        // enqueues straight away, which the serialized input count allows.
        std::vector<uint8_t> const blob = serializeV2(*p);
        auto* q = static_cast<IPluginV2DynamicExt*>(creator->deserializePlugin("ln", blob.data(), blob.size()));
        CHECK(r, q != nullptr, "deserializePlugin");
        void* out1[1] = {reinterpret_cast<void*>(c->outputs[1])};
        if (q != nullptr)
        {
            CHECK(r, q->initialize() == 0 && q->enqueue(io, io + n, ins, out1, nullptr, stream) == 0, "enqueue (deserialized)");
            q->destroy();
        }
        IPluginV2DynamicExt* k = p->clone();
        void* out2[1] = {reinterpret_cast<void*>(c->outputs[2])};
        CHECK(r, k != nullptr && k->enqueue(io, io + n, ins, out2, nullptr, stream) == 0, "enqueue (clone)");
        if (k != nullptr)
        {
            k->destroy();
        }
        p->terminate();
        p->destroy();
        return r.failures;
    }
#if NV_TENSORRT_MAJOR >= 10
    IPluginCreatorV3One* creator = findV3("", c->kind);
    CHECK(r, creator != nullptr, "version 2 creator");
    if (creator == nullptr)
    {
        return r.failures;
    }
    V3Parts v = parts(creator->createPlugin("ln", &f.fc, TensorRTPhase::kBUILD));
    CHECK(r, v.build != nullptr && v.runtime != nullptr, "createPlugin");
    if (v.build == nullptr || v.runtime == nullptr)
    {
        delete v.plugin;
        return r.failures;
    }
    for (int32_t pos = 0; pos <= n; ++pos)
    {
        CHECK(r, v.build->supportsFormatCombination(pos, dio, n, 1), "supportsFormatCombination(%d)", pos);
    }
    DataType inTypes[3] = {io[0].type, io[1].type, io[2].type};
    DataType outType{};
    CHECK(r, v.build->getOutputDataTypes(&outType, 1, inTypes, n) == 0 && outType == io[n].type, "getOutputDataTypes");
    CHECK(r, v.build->configurePlugin(dio, n, dio + n, 1) == 0, "configurePlugin");
    // Runtime: the engine's copy is recreated from the serialized fields, then attached and shaped.
    V3Parts w = parts(creator->createPlugin("ln", v.runtime->getFieldsToSerialize(), TensorRTPhase::kRUNTIME));
    V3Parts a = parts(w.runtime != nullptr ? w.runtime->attachToContext(nullptr) : nullptr);
    V3Parts k = parts(v.plugin->clone());
    V3Parts* all[3] = {&v, &a, &k};
    for (int i = 0; i < 3; ++i)
    {
        V3Parts& t = *all[i];
        void* out[1] = {reinterpret_cast<void*>(c->outputs[i])};
        CHECK(r, t.runtime != nullptr && t.runtime->onShapeChange(io, n, io + n, 1) == 0, "onShapeChange (%d)", i);
        CHECK(r, t.runtime != nullptr && t.runtime->enqueue(io, io + n, ins, out, nullptr, stream) == 0,
            "enqueue (%d): %s", i, state().logger.text().c_str());
    }
    delete v.plugin;
    delete w.plugin;
    delete a.plugin;
    delete k.plugin;
#else
    CHECK(r, false, "version 2 needs TensorRT >= 10");
#endif
    return r.failures;
}

// Host time of the plugin's enqueue, as TensorRT calls it at run time: the
// plugin is created and configured once (V2: createPlugin, configurePlugin,
// initialize; V3: the runtime copy recreated from the serialized fields,
// attached and shaped), then `batches` batches of `perBatch` enqueues into
// outputs[0] are timed, `sync` (the caller's stream synchronize) running
// between batches and outside the timing. *nsPerCall: the median batch's mean.
extern "C" int tln_lean_enqueue_timing(TlnLeanCase const* c, int32_t batches, int32_t perBatch,
    void (*sync)(uint64_t stream), double* nsPerCall, char* report, size_t reportLen)
{
    Report r{report, reportLen};
    if (c->kind < 0 || c->kind >= kNbKinds || c->nbInputs < 1 || c->nbInputs > kMaxInputs[c->kind])
    {
        CHECK(r, false, "bad case: kind %d with %d inputs", c->kind, c->nbInputs);
        return r.failures;
    }
    CaseTensors const tensors(*c);
    PluginTensorDesc const* io = tensors.io;
    DynamicPluginTensorDesc const* dio = tensors.dio;
    void const* const* ins = tensors.ins;
    int32_t const n = c->nbInputs;
    void* outs[1] = {reinterpret_cast<void*>(c->outputs[0])};
    auto stream = reinterpret_cast<cudaStream_t>(c->stream);
    Fields f(c->epsilon, c->axis, c->outputType);

    std::vector<double> perCall;
    auto timeBatches = [&](auto&& enqueueOnce) {
        for (int32_t b = 0; b < batches; ++b)
        {
            auto const t0 = std::chrono::steady_clock::now();
            for (int32_t i = 0; i < perBatch; ++i)
            {
                if (enqueueOnce() != 0)
                {
                    CHECK(r, false, "enqueue failed: %s", state().logger.text().c_str());
                    return;
                }
            }
            auto const t1 = std::chrono::steady_clock::now();
            sync(c->stream);
            perCall.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / perBatch);
        }
    };

    if (c->version == 1)
    {
        IPluginCreator* creator = findV1("", c->kind);
        auto* p = creator != nullptr ? static_cast<IPluginV2DynamicExt*>(creator->createPlugin("ln", &f.fc)) : nullptr;
        CHECK(r, p != nullptr, "createPlugin (version 1)");
        if (p == nullptr)
        {
            return r.failures;
        }
        p->configurePlugin(dio, n, dio + n, 1);
        CHECK(r, p->initialize() == 0, "initialize");
        timeBatches([&] { return p->enqueue(io, io + n, ins, outs, nullptr, stream); });
        p->terminate();
        p->destroy();
    }
    else
    {
#if NV_TENSORRT_MAJOR >= 10
        IPluginCreatorV3One* creator = findV3("", c->kind);
        V3Parts v = parts(creator != nullptr ? creator->createPlugin("ln", &f.fc, TensorRTPhase::kBUILD) : nullptr);
        CHECK(r, v.build != nullptr && v.runtime != nullptr, "createPlugin (version 2)");
        if (v.build == nullptr || v.runtime == nullptr)
        {
            delete v.plugin;
            return r.failures;
        }
        CHECK(r, v.build->configurePlugin(dio, n, dio + n, 1) == 0, "configurePlugin");
        V3Parts w = parts(creator->createPlugin("ln", v.runtime->getFieldsToSerialize(), TensorRTPhase::kRUNTIME));
        V3Parts a = parts(w.runtime != nullptr ? w.runtime->attachToContext(nullptr) : nullptr);
        CHECK(r, a.runtime != nullptr && a.runtime->onShapeChange(io, n, io + n, 1) == 0, "attachToContext, onShapeChange");
        if (a.runtime != nullptr)
        {
            timeBatches([&] { return a.runtime->enqueue(io, io + n, ins, outs, nullptr, stream); });
        }
        delete v.plugin;
        delete w.plugin;
        delete a.plugin;
#else
        CHECK(r, false, "version 2 needs TensorRT >= 10");
#endif
    }
    if (perCall.empty())
    {
        CHECK(r, false, "no timed batch");
        return r.failures;
    }
    std::sort(perCall.begin(), perCall.end());
    *nsPerCall = perCall[perCall.size() / 2];
    return r.failures;
}

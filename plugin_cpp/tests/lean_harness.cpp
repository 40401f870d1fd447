// Drives libtrt_layernorm.so inside NVIDIA's real plugin registry (the lean
// runtime's libnvinfer_lean.so), as TensorRT would: loading by loadLibrary
// and by dlopen, finding the creators, creating plugins from fields, the
// build-time and run-time calls, serialization, clone, destroy, enqueue.
// Called from tests/plugin_lean_runtime.rs; linked into test executables only.
#include <NvInferRuntime.h>

#include <algorithm>
#include <array>
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
// 1 = FP32RMSNorm (X, Scale), 2 = FP32SkipLayerNorm (X, Skip, Scale, Bias, ResidualBias;
// outputs Y and, with sum_output = 1, S).
constexpr int kLN = 0;
constexpr int kRMS = 1;
constexpr int kSKIP = 2;
constexpr int kNbKinds = 3;
constexpr char const* kNames[kNbKinds] = {"FP32LayerNorm", "FP32RMSNorm", "FP32SkipLayerNorm"};
constexpr int32_t kMinInputs[kNbKinds] = {1, 1, 2};
constexpr int32_t kMaxInputs[kNbKinds] = {3, 2, 5};
constexpr int32_t kNbFields[kNbKinds] = {4, 4, 5};
constexpr char const* kFieldLists[kNbKinds] = {"epsilon, axis, output_type, workspace",
    "epsilon, axis, output_type, workspace", "epsilon, axis, output_type, sum_output, workspace"};
constexpr int32_t kMaxIn = 5;  // the most inputs of any kind
constexpr int32_t kMaxOut = 2; // the most outputs of any kind

// What an input is to its plugin (by position): FP32LayerNorm / FP32RMSNorm take X, Scale, Bias;
// FP32SkipLayerNorm X, Skip, Scale, Bias, ResidualBias.
enum class Role
{
    kX,
    kSkip,
    kScale,
    kBias,
    kResidualBias
};

Role roleOf(int kind, int32_t pos)
{
    static Role const layer[] = {Role::kX, Role::kScale, Role::kBias};
    static Role const skip[] = {Role::kX, Role::kSkip, Role::kScale, Role::kBias, Role::kResidualBias};
    return kind == kSKIP ? skip[pos] : layer[pos];
}

// The position of the input of `role` in a plugin of `kind`, -1 where it has none.
int32_t posOf(int kind, Role role)
{
    for (int32_t i = 0; i < kMaxInputs[kind]; ++i)
    {
        if (roleOf(kind, i) == role)
        {
            return i;
        }
    }
    return -1;
}

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
    for (char const* ours : kNames)
    {
        if (std::strcmp(name, ours) == 0)
        {
            return true;
        }
    }
    return false;
}

// How many creators of our plugins the registry lists. (getCreator is not used
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

// A field collection (points into itself: never copied or moved).
struct Fields
{
    float epsilon{1e-5F};
    int32_t axis{-1};
    int32_t outputType{0};
    int32_t sumOutput{0};
    std::vector<PluginField> list;
    PluginFieldCollection fc{};

    // sum_output is given only where s >= 0 (FP32SkipLayerNorm's field).
    Fields(float e, int32_t a, int32_t o, int32_t s = -1)
        : epsilon(e)
        , axis(a)
        , outputType(o)
        , sumOutput(s)
    {
        list.emplace_back("epsilon", &epsilon, PluginFieldType::kFLOAT32, 1);
        list.emplace_back("axis", &axis, PluginFieldType::kINT32, 1);
        list.emplace_back("output_type", &outputType, PluginFieldType::kINT32, 1);
        if (s >= 0)
        {
            list.emplace_back("sum_output", &sumOutput, PluginFieldType::kINT32, 1);
        }
        sync();
    }
    Fields(Fields const&) = delete;
    Fields& operator=(Fields const&) = delete;
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

// A plugin's tensors as TensorRT describes them: `nbIn` inputs by role (X: `xType`
// with dims `x`; Skip: X's type and dims; Scale: `scaleType`, Bias: `biasType`,
// ResidualBias: X's type, each with dims `g`), then Y (`yType`) and, with `sum`, S
// (X's type), both with dims `x`.
struct Io
{
    std::vector<PluginTensorDesc> t;
    std::vector<DynamicPluginTensorDesc> d;
    int32_t nbIn{0};
    int32_t nbOut{0};

    Io(int kind, int32_t n, bool sum, DataType xType, DataType scaleType, DataType biasType, DataType yType,
        std::vector<int64_t> const& x, std::vector<int64_t> const& g)
        : nbIn(n)
        , nbOut(sum ? 2 : 1)
    {
        for (int32_t i = 0; i < n; ++i)
        {
            switch (roleOf(kind, i))
            {
            case Role::kX:
            case Role::kSkip: t.push_back(desc(xType, x)); break;
            case Role::kScale: t.push_back(desc(scaleType, g)); break;
            case Role::kBias: t.push_back(desc(biasType, g)); break;
            case Role::kResidualBias: t.push_back(desc(xType, g)); break;
            }
        }
        t.push_back(desc(yType, x));
        if (sum)
        {
            t.push_back(desc(xType, x));
        }
        sync();
    }
    // Rebuilds the dynamic descriptions after `t` was edited.
    void sync()
    {
        d.clear();
        for (PluginTensorDesc const& p : t)
        {
            d.push_back(dyn(p));
        }
    }
    std::vector<DataType> inTypes() const
    {
        std::vector<DataType> types;
        for (int32_t i = 0; i < nbIn; ++i)
        {
            types.push_back(t[static_cast<size_t>(i)].type);
        }
        return types;
    }
};

// An IExprBuilder that is never called (the plugins copy X's dimension expressions).
class UnusedExprBuilder : public IExprBuilder
{
public:
    UnusedExprBuilder()
    {
        mImpl = nullptr;
    }
    ~UnusedExprBuilder() noexcept override = default;
};

// Dimension expressions of rank `n` with distinct (never dereferenced) addresses.
DimsExprs exprs(int32_t n)
{
    static char tokens[8];
    DimsExprs e{};
    e.nbDims = n;
    for (int32_t i = 0; i < n; ++i)
    {
        e.d[i] = reinterpret_cast<IDimensionExpr const*>(&tokens[i]);
    }
    return e;
}

bool sameExprs(DimsExprs const& a, DimsExprs const& b)
{
    if (a.nbDims != b.nbDims)
    {
        return false;
    }
    for (int32_t i = 0; i < a.nbDims; ++i)
    {
        if (a.d[i] != b.d[i])
        {
            return false;
        }
    }
    return true;
}

// --- Version "1" (IPluginV2DynamicExt) of plugin `kind` through its creator, without a GPU. ---
// FP32SkipLayerNorm is created here with sum_output = 1 (two outputs); checkSkipV1 covers the rest.
void checkV1(Report& r, IPluginCreator& creator, int kind)
{
    CapturingLogger& log = state().logger;
    char const* const kName = kNames[kind];
    int32_t const nbIn = kMaxInputs[kind];
    bool const skip = kind == kSKIP;
    CHECK(r, std::strcmp(creator.getPluginName(), kName) == 0, "name %s", creator.getPluginName());
    CHECK(r, std::strcmp(creator.getPluginVersion(), "1") == 0, "version %s", creator.getPluginVersion());
    PluginFieldCollection const* names = creator.getFieldNames();
    CHECK(r, names != nullptr && names->nbFields == kNbFields[kind], "getFieldNames");
    if (names != nullptr && names->nbFields == kNbFields[kind])
    {
        CHECK(r, std::strcmp(names->fields[0].name, "epsilon") == 0 && names->fields[0].type == PluginFieldType::kFLOAT32,
            "field 0");
        CHECK(r, std::strcmp(names->fields[1].name, "axis") == 0 && names->fields[1].type == PluginFieldType::kINT32,
            "field 1");
        CHECK(r, std::strcmp(names->fields[2].name, "output_type") == 0, "field 2");
        if (skip)
        {
            CHECK(r,
                std::strcmp(names->fields[3].name, "sum_output") == 0 && names->fields[3].type == PluginFieldType::kINT32,
                "field 3");
        }
        PluginField const& last = names->fields[kNbFields[kind] - 1];
        CHECK(r, std::strcmp(last.name, "workspace") == 0 && last.type == PluginFieldType::kINT32, "workspace field");
    }

    Fields f(1e-6F, -1, 1, skip ? 1 : -1);
    auto* p = static_cast<IPluginV2DynamicExt*>(creator.createPlugin("ln", &f.fc));
    CHECK(r, p != nullptr, "createPlugin from valid fields returned null: %s", log.text().c_str());
    if (p == nullptr)
    {
        return;
    }
    CHECK(r, std::strcmp(p->getPluginType(), kName) == 0 && std::strcmp(p->getPluginVersion(), "1") == 0, "identity");
    CHECK(r, p->getNbOutputs() == (skip ? 2 : 1), "getNbOutputs %d", p->getNbOutputs());
    CHECK(r, p->initialize() == 0, "initialize");

    // Formats: X f16, Scale f32, Bias f16 (and Skip, ResidualBias f16), Y f32 (output_type 1), S f16.
    std::vector<int64_t> const x{2, 3, 64};
    std::vector<int64_t> const g{64};
    Io io(kind, nbIn, skip, DataType::kHALF, DataType::kFLOAT, DataType::kHALF, DataType::kFLOAT, x, g);
    int32_t const nbOut = io.nbOut;
    for (int32_t pos = 0; pos < nbIn + nbOut; ++pos)
    {
        CHECK(r, p->supportsFormatCombination(pos, io.t.data(), nbIn, nbOut), "supportsFormatCombination pos %d", pos);
    }
    Io bad = io;
    bad.t[static_cast<size_t>(nbIn)] = desc(DataType::kHALF, x);
    CHECK(r, !p->supportsFormatCombination(nbIn, bad.t.data(), nbIn, nbOut), "Y must be FP32 with output_type 1");
    Io i8 = io;
    i8.t[0].type = DataType::kINT8;
    CHECK(r, !p->supportsFormatCombination(0, i8.t.data(), nbIn, nbOut), "INT8 X refused");
    Io chw = io;
    chw.t[0].format = TensorFormat::kCHW32;
    CHECK(r, !p->supportsFormatCombination(0, chw.t.data(), nbIn, nbOut), "non-linear format refused");
    std::vector<DataType> const inTypes = io.inTypes();
    CHECK(r, p->getOutputDataType(0, inTypes.data(), nbIn) == DataType::kFLOAT, "getOutputDataType");
    UnusedExprBuilder eb;
    std::vector<DimsExprs> inExprs(static_cast<size_t>(nbIn), exprs(3));
    CHECK(r, sameExprs(p->getOutputDimensions(0, inExprs.data(), nbIn, eb), inExprs[0]), "getOutputDimensions(0)");
    if (skip)
    {
        CHECK(r, p->getOutputDataType(1, inTypes.data(), nbIn) == DataType::kHALF, "S has X's type");
        CHECK(r, sameExprs(p->getOutputDimensions(1, inExprs.data(), nbIn, eb), inExprs[0]), "S has X's shape");
    }
    log.clear();
    CHECK(r, p->getOutputDimensions(nbOut, inExprs.data(), nbIn, eb).nbDims == 0 && log.saw("getOutputDimensions"),
        "getOutputDimensions past the last output is logged: %s", log.text().c_str());
    CHECK(r, p->getWorkspaceSize(io.t.data(), nbIn, io.t.data() + nbIn, nbOut) == 0, "workspace");

    log.clear();
    p->configurePlugin(io.d.data(), nbIn, io.d.data() + nbIn, nbOut);
    CHECK(r, log.text().empty(), "configurePlugin logged: %s", log.text().c_str());
    Io badScale = io;
    badScale.t[static_cast<size_t>(posOf(kind, Role::kScale))] = desc(DataType::kFLOAT, {63});
    badScale.sync();
    p->configurePlugin(badScale.d.data(), nbIn, badScale.d.data() + nbIn, nbOut);
    CHECK(r, log.saw("Scale"), "a wrong Scale shape is logged, got: %s", log.text().c_str());
    if (kind == kRMS)
    {
        // No Bias: a third input is refused, and the message names this plugin.
        log.clear();
        DynamicPluginTensorDesc three[3] = {io.d[0], io.d[1], io.d[1]};
        DynamicPluginTensorDesc dout[1] = {io.d[2]};
        p->configurePlugin(three, 3, dout, 1);
        CHECK(r, log.saw("FP32RMSNorm: configurePlugin: FP32RMSNorm takes 1 to 2 inputs (X, Scale), got 3"),
            "3 inputs refused by name, got: %s", log.text().c_str());
        PluginTensorDesc four[4] = {io.t[0], io.t[1], io.t[1], io.t[2]};
        CHECK(r, !p->supportsFormatCombination(0, four, 3, 1), "3 inputs: no format combination");
        DataType const three_types[3] = {DataType::kHALF, DataType::kFLOAT, DataType::kFLOAT};
        CHECK(r, p->getOutputDataType(0, three_types, 3) == DataType::kFLOAT && log.saw("getOutputDataType"),
            "getOutputDataType with 3 inputs is logged");
    }
    p->configurePlugin(io.d.data(), nbIn, io.d.data() + nbIn, nbOut);

    // Serialize -> deserialize -> same bytes; clone -> same bytes.
    std::vector<uint8_t> const blob = serializeV2(*p);
    CHECK(r, blob.size() > 16, "blob size %zu", blob.size());
    auto* q = static_cast<IPluginV2DynamicExt*>(creator.deserializePlugin("ln", blob.data(), blob.size()));
    CHECK(r, q != nullptr && serializeV2(*q) == blob && q->getNbOutputs() == nbOut, "deserialize round trip");
    IPluginV2DynamicExt* c = p->clone();
    CHECK(r, c != nullptr && serializeV2(*c) == blob && c->getNbOutputs() == nbOut, "clone");
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
            && log.saw((std::string("(") + kName + " takes " + kFieldLists[kind] + ")").c_str()),
        "unknown field: %s", log.text().c_str());
    Fields mistyped(1e-5F, -1, 0);
    mistyped.list[1].type = PluginFieldType::kFLOAT64;
    CHECK(r, creator.createPlugin("ln", &mistyped.fc) == nullptr && log.saw("`axis`"), "mistyped field: %s",
        log.text().c_str());
    Fields negative(-1.0F, -1, 0);
    CHECK(r, creator.createPlugin("ln", &negative.fc) == nullptr && log.saw("`epsilon`") && log.saw("finite and >= 0"),
        "negative epsilon");
    Fields outType(1e-5F, -1, 2);
    CHECK(r, creator.createPlugin("ln", &outType.fc) == nullptr && log.saw("`output_type`"), "output_type 2");
    // epsilon = 0 (an exporter folded it away) is valid.
    Fields zero(0.0F, -1, 0);
    IPluginV2* z = creator.createPlugin("ln", &zero.fc);
    CHECK(r, z != nullptr, "epsilon 0 is accepted: %s", log.text().c_str());
    if (z != nullptr)
    {
        z->destroy();
    }
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
    CHECK(r, d != nullptr && d->getNbOutputs() == 1, "no fields = defaults");
    if (d != nullptr)
    {
        d->destroy();
    }
    if (!skip)
    {
        log.clear();
        Fields sum(1e-5F, -1, 0, 0);
        CHECK(r, creator.createPlugin("ln", &sum.fc) == nullptr
                && log.saw((std::string("unknown plugin field `sum_output` (") + kName).c_str()),
            "sum_output is FP32SkipLayerNorm's only: %s", log.text().c_str());
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

// --- FP32SkipLayerNorm, version "1": what the generic check does not cover. ---
void checkSkipV1(Report& r, IPluginCreator& creator)
{
    CapturingLogger& log = state().logger;
    std::vector<int64_t> const x{4, 16};
    std::vector<int64_t> const g{16};
    UnusedExprBuilder eb;
    for (int32_t sum = 0; sum <= 1; ++sum)
    {
        Fields f(1e-5F, -1, 0, sum);
        auto* p = static_cast<IPluginV2DynamicExt*>(creator.createPlugin("skip", &f.fc));
        CHECK(r, p != nullptr, "createPlugin sum_output %d: %s", sum, log.text().c_str());
        if (p == nullptr)
        {
            continue;
        }
        int32_t const nbOut = 1 + sum;
        CHECK(r, p->getNbOutputs() == nbOut, "getNbOutputs with sum_output %d", sum);
        // Every input count 2 to 5: formats, configure, and the count survives serialization.
        for (int32_t n = 2; n <= 5; ++n)
        {
            Io io(kSKIP, n, sum == 1, DataType::kFLOAT, DataType::kHALF, DataType::kHALF, DataType::kFLOAT, x, g);
            for (int32_t pos = 0; pos < n + nbOut; ++pos)
            {
                CHECK(r, p->supportsFormatCombination(pos, io.t.data(), n, nbOut), "n %d pos %d", n, pos);
            }
            std::vector<DataType> const types = io.inTypes();
            for (int32_t o = 0; o < nbOut; ++o)
            {
                CHECK(r, p->getOutputDataType(o, types.data(), n) == DataType::kFLOAT, "output %d type", o);
            }
            log.clear();
            p->configurePlugin(io.d.data(), n, io.d.data() + n, nbOut);
            CHECK(r, log.text().empty(), "configurePlugin with %d inputs: %s", n, log.text().c_str());
            std::vector<uint8_t> const blob = serializeV2(*p);
            auto* q = static_cast<IPluginV2DynamicExt*>(creator.deserializePlugin("skip", blob.data(), blob.size()));
            CHECK(r, q != nullptr && serializeV2(*q) == blob && q->getNbOutputs() == nbOut, "round trip, %d inputs", n);
            if (q != nullptr)
            {
                q->destroy();
            }
        }
        Io io(kSKIP, 5, sum == 1, DataType::kHALF, DataType::kHALF, DataType::kHALF, DataType::kHALF, x, g);
        // Counts outside 2..5 are refused with the plugin's message.
        log.clear();
        p->configurePlugin(io.d.data(), 1, io.d.data() + 5, nbOut);
        CHECK(r,
            log.saw("FP32SkipLayerNorm: configurePlugin: FP32SkipLayerNorm takes 2 to 5 inputs (X, Skip, Scale, Bias, "
                    "ResidualBias), got 1"),
            "1 input: %s", log.text().c_str());
        log.clear();
        std::vector<DynamicPluginTensorDesc> six(io.d.begin(), io.d.begin() + 5);
        six.push_back(io.d[4]);
        six.push_back(io.d[5]);
        p->configurePlugin(six.data(), 6, six.data() + 6, 1);
        CHECK(r, log.saw("got 6"), "6 inputs: %s", log.text().c_str());
        log.clear();
        p->configurePlugin(io.d.data(), 5, io.d.data() + 5, 2 - sum);
        CHECK(r,
            log.saw(sum == 1 ? "has exactly 2 outputs (Y, S) with sum_output = 1, got 1"
                             : "has exactly 1 output (Y) with sum_output = 0, got 2"),
            "output count: %s", log.text().c_str());
        DataType const one[1] = {DataType::kHALF};
        log.clear();
        p->getOutputDataType(0, one, 1);
        CHECK(r, log.saw("got 1"), "getOutputDataType with 1 input: %s", log.text().c_str());
        log.clear();
        std::vector<DataType> const types = io.inTypes();
        p->getOutputDataType(nbOut, types.data(), 5);
        CHECK(r, log.saw("output index"), "getOutputDataType past the last output: %s", log.text().c_str());
        std::vector<DimsExprs> inExprs(5, exprs(2));
        CHECK(r, p->getOutputDimensions(0, inExprs.data(), 1, eb).nbDims == 0, "getOutputDimensions with 1 input");

        // Skip: X's shape and type; ResidualBias: the normalized dims and X's type. Refused by name.
        struct Bad
        {
            int32_t pos;
            DataType type;
            std::vector<int64_t> dims;
            char const* message;
        };
        Bad const bads[] = {
            {1, DataType::kHALF, {16}, "Skip has shape [16] but must have X's shape [4, 16]"},
            {1, DataType::kHALF, {1, 4, 16}, "Skip has shape"},
            {1, DataType::kFLOAT, {4, 16}, "Skip must have X's type"},
            {4, DataType::kHALF, {4, 16}, "ResidualBias has shape [4, 16] but must have the normalized dims"},
            {4, DataType::kFLOAT, {16}, "ResidualBias must have X's type"},
        };
        for (Bad const& b : bads)
        {
            Io e = io;
            e.t[static_cast<size_t>(b.pos)] = desc(b.type, b.dims);
            e.sync();
            log.clear();
            p->configurePlugin(e.d.data(), 5, e.d.data() + 5, nbOut);
            CHECK(r, log.saw(b.message), "%s: %s", b.message, log.text().c_str());
            if (b.type != DataType::kHALF)
            {
                CHECK(r, !p->supportsFormatCombination(b.pos, e.t.data(), 5, nbOut), "%s (formats)", b.message);
            }
        }
        if (sum == 1)
        {
            Io e = io;
            e.t[6].type = DataType::kFLOAT;
            CHECK(r, !p->supportsFormatCombination(6, e.t.data(), 5, 2), "S in another type than X");
        }
        p->destroy();
    }
    // sum_output: 0 or 1, an int32; named in the refusal.
    log.clear();
    Fields two(1e-5F, -1, 0, 2);
    CHECK(r, creator.createPlugin("skip", &two.fc) == nullptr && log.saw("`sum_output` = 2 is out of range"),
        "sum_output 2: %s", log.text().c_str());
    Fields mistyped(1e-5F, -1, 0, 1);
    mistyped.list[3].type = PluginFieldType::kFLOAT32;
    CHECK(r, creator.createPlugin("skip", &mistyped.fc) == nullptr && log.saw("`sum_output` has type float32"),
        "sum_output as float32: %s", log.text().c_str());
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

// Reads back getFieldsToSerialize as (epsilon, axis, output_type) and, for
// FP32SkipLayerNorm, sum_output (-1 where the plugin has no such field).
bool serializedFields(IPluginV3OneRuntime& rt, int kind, float& e, int32_t& a, int32_t& o, int32_t& s)
{
    PluginFieldCollection const* fc = rt.getFieldsToSerialize();
    if (fc == nullptr || fc->nbFields != kNbFields[kind])
    {
        return false;
    }
    std::memcpy(&e, fc->fields[0].data, 4);
    std::memcpy(&a, fc->fields[1].data, 4);
    std::memcpy(&o, fc->fields[2].data, 4);
    s = -1;
    bool ok = std::strcmp(fc->fields[0].name, "epsilon") == 0 && std::strcmp(fc->fields[1].name, "axis") == 0
        && std::strcmp(fc->fields[2].name, "output_type") == 0;
    for (int32_t i = 0; i < fc->nbFields; ++i)
    {
        ok = ok && fc->fields[i].length == 1;
    }
    if (kind == kSKIP)
    {
        std::memcpy(&s, fc->fields[3].data, 4);
        ok = ok && std::strcmp(fc->fields[3].name, "sum_output") == 0 && fc->fields[3].type == PluginFieldType::kINT32;
    }
    // Last, `workspace`: 1 for a plugin created for a build (no field given).
    PluginField const& w = fc->fields[fc->nbFields - 1];
    int32_t workspace = -1;
    std::memcpy(&workspace, w.data, 4);
    return ok && std::strcmp(w.name, "workspace") == 0 && w.type == PluginFieldType::kINT32 && workspace == 1;
}

// --- Version "2" (IPluginV3) of plugin `kind` through its creator, without a GPU. ---
// FP32SkipLayerNorm: once with sum_output = 0 (one output), once with 1 (Y and S).
void checkV3(Report& r, IPluginCreatorV3One& creator, int kind, int32_t sum = -1)
{
    CapturingLogger& log = state().logger;
    char const* const kName = kNames[kind];
    int32_t const nbIn = kMaxInputs[kind];
    bool const skip = kind == kSKIP;
    CHECK(r, std::strcmp(creator.getPluginName(), kName) == 0 && std::strcmp(creator.getPluginVersion(), "2") == 0,
        "identity");
    CHECK(r, std::strcmp(creator.getInterfaceInfo().kind, "PLUGIN CREATOR_V3ONE") == 0, "kind");
    PluginFieldCollection const* names = creator.getFieldNames();
    CHECK(r, names != nullptr && names->nbFields == kNbFields[kind], "getFieldNames");
    Fields f(1e-6F, -2, 0, sum);
    V3Parts v = parts(creator.createPlugin("ln", &f.fc, TensorRTPhase::kBUILD));
    CHECK(r, v.plugin && v.core && v.build && v.runtime, "createPlugin + capabilities: %s", log.text().c_str());
    if (!(v.plugin && v.core && v.build && v.runtime))
    {
        return;
    }
    CHECK(r, std::strcmp(v.core->getPluginName(), kName) == 0 && std::strcmp(v.core->getPluginVersion(), "2") == 0,
        "core identity");
    int32_t const nbOut = sum == 1 ? 2 : 1;
    CHECK(r, v.build->getNbOutputs() == nbOut, "getNbOutputs %d", v.build->getNbOutputs());
    std::vector<int64_t> const x{4, 8, 32};
    std::vector<int64_t> const g{8, 32};
    // X bf16, Scale f16, Bias f32 (Skip, ResidualBias bf16), Y bf16, S bf16.
    Io io(kind, nbIn, sum == 1, DataType::kBF16, DataType::kHALF, DataType::kFLOAT, DataType::kBF16, x, g);
    for (int32_t pos = 0; pos < nbIn + nbOut; ++pos)
    {
        CHECK(r, v.build->supportsFormatCombination(pos, io.d.data(), nbIn, nbOut), "supportsFormatCombination pos %d",
            pos);
    }
    std::vector<DataType> const inTypes = io.inTypes();
    DataType outTypes[kMaxOut] = {DataType::kINT8, DataType::kINT8};
    CHECK(r,
        v.build->getOutputDataTypes(outTypes, nbOut, inTypes.data(), nbIn) == 0 && outTypes[0] == DataType::kBF16
            && (nbOut == 1 || outTypes[1] == DataType::kBF16),
        "getOutputDataTypes");
    UnusedExprBuilder eb;
    std::vector<DimsExprs> inExprs(static_cast<size_t>(nbIn), exprs(3));
    DimsExprs outExprs[kMaxOut]{};
    CHECK(r,
        v.build->getOutputShapes(inExprs.data(), nbIn, nullptr, 0, outExprs, nbOut, eb) == 0
            && sameExprs(outExprs[0], inExprs[0]) && (nbOut == 1 || sameExprs(outExprs[1], inExprs[0])),
        "getOutputShapes");
    log.clear();
    CHECK(r, v.build->getOutputShapes(inExprs.data(), nbIn, nullptr, 0, outExprs, 3 - nbOut, eb) != 0
            && log.saw("getOutputShapes"),
        "getOutputShapes with the wrong output count: %s", log.text().c_str());
    log.clear();
    CHECK(r, v.build->configurePlugin(io.d.data(), nbIn, io.d.data() + nbIn, nbOut) == 0, "configurePlugin: %s",
        log.text().c_str());
    if (kind == kLN)
    {
        DynamicPluginTensorDesc badBias[3] = {io.d[0], io.d[1], dyn(desc(DataType::kFLOAT, {32}))};
        CHECK(r, v.build->configurePlugin(badBias, 3, io.d.data() + 3, 1) != 0 && log.saw("Bias"), "bad Bias: %s",
            log.text().c_str());
    }
    else if (kind == kRMS)
    {
        DynamicPluginTensorDesc three[3] = {io.d[0], io.d[1], io.d[1]};
        CHECK(r, v.build->configurePlugin(three, 3, io.d.data() + nbIn, 1) != 0
                && log.saw("FP32RMSNorm takes 1 to 2 inputs (X, Scale), got 3"),
            "3 inputs: %s", log.text().c_str());
        CHECK(r, v.build->getOutputDataTypes(outTypes, 1, inTypes.data(), 3) != 0, "getOutputDataTypes with 3 inputs");
    }
    else
    {
        Io badRes = io;
        badRes.t[4] = desc(DataType::kBF16, {32, 8});
        badRes.sync();
        CHECK(r, v.build->configurePlugin(badRes.d.data(), 5, badRes.d.data() + 5, nbOut) != 0
                && log.saw("FP32SkipLayerNorm: configurePlugin: ResidualBias has shape [32, 8]"),
            "bad ResidualBias: %s", log.text().c_str());
        CHECK(r, v.build->configurePlugin(io.d.data(), 1, io.d.data() + nbIn, nbOut) != 0
                && log.saw("FP32SkipLayerNorm takes 2 to 5 inputs (X, Skip, Scale, Bias, ResidualBias), got 1"),
            "1 input: %s", log.text().c_str());
        CHECK(r, v.build->getOutputDataTypes(outTypes, nbOut, inTypes.data(), 1) != 0, "getOutputDataTypes with 1 input");
        Io badSkip = io;
        badSkip.t[1] = desc(DataType::kHALF, x);
        badSkip.sync();
        CHECK(r, !v.build->supportsFormatCombination(1, badSkip.d.data(), nbIn, nbOut), "Skip in another type");
        CHECK(r, v.build->configurePlugin(badSkip.d.data(), 5, badSkip.d.data() + 5, nbOut) != 0
                && log.saw("Skip must have X's type (bf16)"),
            "Skip in another type is logged: %s", log.text().c_str());
    }
    std::vector<PluginTensorDesc> rt = io.t;
    CHECK(r, v.runtime->onShapeChange(rt.data(), nbIn, rt.data() + nbIn, nbOut) == 0, "onShapeChange");
    std::vector<PluginTensorDesc> badRt = io.t;
    badRt[static_cast<size_t>(posOf(kind, Role::kScale))] = desc(DataType::kHALF, {4, 32});
    CHECK(r, v.runtime->onShapeChange(badRt.data(), nbIn, badRt.data() + nbIn, nbOut) != 0, "onShapeChange with a bad Scale");
    if (skip)
    {
        std::vector<PluginTensorDesc> badSkip = io.t;
        badSkip[1] = desc(DataType::kBF16, {4, 8, 31});
        log.clear();
        CHECK(r, v.runtime->onShapeChange(badSkip.data(), nbIn, badSkip.data() + nbIn, nbOut) != 0
                && log.saw("onShapeChange: Skip has shape [4, 8, 31] but must have X's shape [4, 8, 32]"),
            "onShapeChange with a bad Skip: %s", log.text().c_str());
    }

    float e = 0;
    int32_t a = 0;
    int32_t o = 0;
    int32_t s = 0;
    int32_t const wantSum = skip ? (sum == 1 ? 1 : 0) : -1;
    CHECK(r, serializedFields(*v.runtime, kind, e, a, o, s) && e == 1e-6F && a == -2 && o == 0 && s == wantSum,
        "getFieldsToSerialize");
    V3Parts w = parts(creator.createPlugin("ln", v.runtime->getFieldsToSerialize(), TensorRTPhase::kRUNTIME));
    CHECK(r,
        w.runtime != nullptr && serializedFields(*w.runtime, kind, e, a, o, s) && e == 1e-6F && a == -2 && o == 0
            && s == wantSum && w.build != nullptr && w.build->getNbOutputs() == nbOut,
        "fields -> createPlugin round trip");
    V3Parts c = parts(v.plugin->clone());
    CHECK(r, c.runtime != nullptr && serializedFields(*c.runtime, kind, e, a, o, s) && a == -2 && s == wantSum, "clone");
    V3Parts att = parts(v.runtime->attachToContext(nullptr));
    CHECK(r, att.plugin != nullptr && att.build != nullptr && att.build->getNbOutputs() == nbOut, "attachToContext");

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
    Fields zero(0.0F, -1, 0);
    IPluginV3* z = creator.createPlugin("ln", &zero.fc, TensorRTPhase::kBUILD);
    CHECK(r, z != nullptr, "epsilon 0 is accepted: %s", log.text().c_str());
    delete z;
    if (skip)
    {
        log.clear();
        Fields three(1e-5F, -1, 0, 3);
        CHECK(r, creator.createPlugin("ln", &three.fc, TensorRTPhase::kBUILD) == nullptr
                && log.saw("FP32SkipLayerNorm: createPlugin (version 2): plugin field `sum_output` = 3 is out of range"),
            "sum_output 3: %s", log.text().c_str());
    }
    else
    {
        log.clear();
        Fields withSum(1e-5F, -1, 0, 1);
        CHECK(r, creator.createPlugin("ln", &withSum.fc, TensorRTPhase::kBUILD) == nullptr
                && log.saw("unknown plugin field `sum_output`"),
            "sum_output is FP32SkipLayerNorm's only: %s", log.text().c_str());
    }

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

// A blob serialized by one plugin's version-1 creator is refused (null, logged) by another's.
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
            if (k == kSKIP)
            {
                checkSkipV1(r, *v1);
            }
            r.line("%s version 1 (IPluginV2DynamicExt): %s", kNames[k], r.failures == before ? "ok" : "FAILED");
        }
#if NV_TENSORRT_MAJOR >= 10
        IPluginCreatorV3One* v3 = findV3("", k);
        CHECK(r, v3 != nullptr, "%s version 2 creator", kNames[k]);
        if (v3 != nullptr)
        {
            int const before = r.failures;
            if (k == kSKIP)
            {
                checkV3(r, *v3, k, 0);
                checkV3(r, *v3, k, 1);
            }
            else
            {
                checkV3(r, *v3, k);
            }
            r.line("%s version 2 (IPluginV3): %s", kNames[k], r.failures == before ? "ok" : "FAILED");
        }
#endif
    }
    int const before = r.failures;
    for (int from = 0; from < kNbKinds; ++from)
    {
        for (int to = 0; to < kNbKinds; ++to)
        {
            IPluginCreator* a = findV1("", from);
            IPluginCreator* b = findV1("", to);
            if (from != to && a != nullptr && b != nullptr)
            {
                checkCrossKindBlobs(r, *a, *b);
            }
        }
    }
    r.line("blobs of one plugin refused by every other plugin's creator: %s", r.failures == before ? "ok" : "FAILED");
    return r.failures;
}

// `cycles` create/clone/serialize/destroy rounds of both versions; host memory must stay flat.
extern "C" int tln_lean_memory_cycles(int32_t cycles, long* rssBeforeKiB, long* rssAfterKiB, char* report, size_t reportLen)
{
    Report r{report, reportLen};
    // Every kind's creators, cycled in turn.
    IPluginCreator* v1[kNbKinds]{};
    bool all = true;
    for (int k = 0; k < kNbKinds; ++k)
    {
        v1[k] = findV1("", k);
        all = all && v1[k] != nullptr;
    }
#if NV_TENSORRT_MAJOR >= 10
    IPluginCreatorV3One* v3[kNbKinds]{};
    for (int k = 0; k < kNbKinds; ++k)
    {
        v3[k] = findV3("", k);
        all = all && v3[k] != nullptr;
    }
    CHECK(r, all, "creators registered");
    if (!all)
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
    CHECK(r, all, "creators registered");
    if (!all)
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

// One enqueue case, shared with the Rust test (tests/plugin_lean_runtime.rs: the same layout).
struct TlnLeanCase
{
    int32_t version; // 1 or 2
    float epsilon;
    int32_t axis;
    int32_t outputType;
    int32_t nbInputs;
    int32_t types[4]; // X, Scale, Bias, Y (TensorRT DataType codes); Skip, ResidualBias and S have X's type
    int32_t nbDims;
    int64_t dims[8];
    int32_t paramNbDims;
    int64_t paramDims[8]; // Scale, Bias, ResidualBias
    uint64_t inputs[5];   // in the plugin's order (FP32SkipLayerNorm: X, Skip, Scale, Bias, ResidualBias)
    uint64_t outputs[3];  // Y of: the original plugin, the deserialized / recreated one, the clone
    uint64_t stream;
    int32_t kind;      // 0 = FP32LayerNorm, 1 = FP32RMSNorm, 2 = FP32SkipLayerNorm
    int32_t sumOutput; // FP32SkipLayerNorm: 1 = S is a second output
    uint64_t sums[3];  // S of the same three plugins (sumOutput = 1)
    uint64_t workspace;      // device memory TensorRT would reserve for the plugin (0 = none)
    uint64_t workspaceBytes; // its size: at least what getWorkspaceSize asks for
};

// A case's tensors as TensorRT describes them to a plugin: io[0..n) the
// inputs, io[n] Y (and io[n + 1] S); dio the same as dynamic descriptors.
struct CaseTensors
{
    PluginTensorDesc io[kMaxIn + kMaxOut];
    DynamicPluginTensorDesc dio[kMaxIn + kMaxOut];
    void const* ins[kMaxIn];
    int32_t nbOut;

    explicit CaseTensors(TlnLeanCase const& c)
        : io{}
        , dio{}
        , ins{}
        , nbOut(c.kind == kSKIP && c.sumOutput == 1 ? 2 : 1)
    {
        std::vector<int64_t> const x(c.dims, c.dims + c.nbDims);
        std::vector<int64_t> const g(c.paramDims, c.paramDims + c.paramNbDims);
        Io const t(c.kind, c.nbInputs, nbOut == 2, static_cast<DataType>(c.types[0]), static_cast<DataType>(c.types[1]),
            static_cast<DataType>(c.types[2]), static_cast<DataType>(c.types[3]), x, g);
        for (size_t i = 0; i < t.t.size(); ++i)
        {
            io[i] = t.t[i];
            dio[i] = t.d[i];
        }
        for (int32_t i = 0; i < kMaxIn; ++i)
        {
            ins[i] = reinterpret_cast<void const*>(c.inputs[i]);
        }
    }
};

// Whether a case names a plugin and an input count it has.
bool validCase(Report& r, TlnLeanCase const* c)
{
    bool const ok = c->kind >= 0 && c->kind < kNbKinds && c->nbInputs >= kMinInputs[c->kind]
        && c->nbInputs <= kMaxInputs[c->kind] && (c->sumOutput == 0 || (c->kind == kSKIP && c->sumOutput == 1));
    CHECK(r, ok, "bad case: kind %d with %d inputs, sum_output %d", c->kind, c->nbInputs, c->sumOutput);
    return ok;
}

// Creates the plugin from the registry, configures and enqueues it (and its
// round-tripped and cloned copies) on the caller's device buffers.
extern "C" int tln_lean_enqueue(TlnLeanCase const* c, char* report, size_t reportLen)
{
    Report r{report, reportLen};
    if (!validCase(r, c))
    {
        return r.failures;
    }
    CaseTensors const tensors(*c);
    PluginTensorDesc const* io = tensors.io;
    DynamicPluginTensorDesc const* dio = tensors.dio;
    void const* const* ins = tensors.ins;
    auto stream = reinterpret_cast<cudaStream_t>(c->stream);
    Fields f(c->epsilon, c->axis, c->outputType, c->kind == kSKIP ? c->sumOutput : -1);
    int32_t const n = c->nbInputs;
    int32_t const m = tensors.nbOut;
    DataType inTypes[kMaxIn]{};
    for (int32_t i = 0; i < n; ++i)
    {
        inTypes[i] = io[i].type;
    }
    // The outputs of copy i: Y and, with sum_output = 1, S.
    auto outs = [&](int i) {
        std::array<void*, kMaxOut> o{reinterpret_cast<void*>(c->outputs[i]), reinterpret_cast<void*>(c->sums[i])};
        return o;
    };

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
        CHECK(r, p->getNbOutputs() == m, "getNbOutputs");
        for (int32_t pos = 0; pos < n + m; ++pos)
        {
            CHECK(r, p->supportsFormatCombination(pos, io, n, m), "supportsFormatCombination(%d)", pos);
        }
        for (int32_t o = 0; o < m; ++o)
        {
            CHECK(r, p->getOutputDataType(o, inTypes, n) == io[n + o].type, "getOutputDataType(%d)", o);
        }
        p->configurePlugin(dio, n, dio + n, m);
        CHECK(r, p->initialize() == 0, "initialize");
        // What TensorRT reserves: getWorkspaceSize of the (largest) shapes; the case holds at least that.
        size_t const wanted = p->getWorkspaceSize(io, n, io + n, m);
        CHECK(r, wanted <= c->workspaceBytes, "getWorkspaceSize %zu > the case's %llu", wanted,
            static_cast<unsigned long long>(c->workspaceBytes));
        void* const workspace = wanted > 0 ? reinterpret_cast<void*>(c->workspace) : nullptr;
        auto out0 = outs(0);
        CHECK(r, p->enqueue(io, io + n, ins, out0.data(), workspace, stream) == 0, "enqueue: %s",
            state().logger.text().c_str());
        // Deserialized plugin: TensorRT configures it again before enqueue; this one
        // enqueues straight away, which the serialized input count allows.
        std::vector<uint8_t> const blob = serializeV2(*p);
        auto* q = static_cast<IPluginV2DynamicExt*>(creator->deserializePlugin("ln", blob.data(), blob.size()));
        CHECK(r, q != nullptr, "deserializePlugin");
        auto out1 = outs(1);
        if (q != nullptr)
        {
            CHECK(r, q->initialize() == 0 && q->enqueue(io, io + n, ins, out1.data(), workspace, stream) == 0,
                "enqueue (deserialized)");
            q->destroy();
        }
        IPluginV2DynamicExt* k = p->clone();
        auto out2 = outs(2);
        CHECK(r, k != nullptr && k->enqueue(io, io + n, ins, out2.data(), workspace, stream) == 0, "enqueue (clone)");
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
    CHECK(r, v.build->getNbOutputs() == m, "getNbOutputs");
    for (int32_t pos = 0; pos < n + m; ++pos)
    {
        CHECK(r, v.build->supportsFormatCombination(pos, dio, n, m), "supportsFormatCombination(%d)", pos);
    }
    DataType outTypes[kMaxOut]{};
    CHECK(r, v.build->getOutputDataTypes(outTypes, m, inTypes, n) == 0 && outTypes[0] == io[n].type
            && (m == 1 || outTypes[1] == io[n + 1].type),
        "getOutputDataTypes");
    CHECK(r, v.build->configurePlugin(dio, n, dio + n, m) == 0, "configurePlugin");
    size_t const wanted = v.build->getWorkspaceSize(dio, n, dio + n, m);
    CHECK(r, wanted <= c->workspaceBytes, "getWorkspaceSize %zu > the case's %llu", wanted,
        static_cast<unsigned long long>(c->workspaceBytes));
    void* const workspace = wanted > 0 ? reinterpret_cast<void*>(c->workspace) : nullptr;
    // Runtime: the engine's copy is recreated from the serialized fields, then attached and shaped.
    V3Parts w = parts(creator->createPlugin("ln", v.runtime->getFieldsToSerialize(), TensorRTPhase::kRUNTIME));
    V3Parts a = parts(w.runtime != nullptr ? w.runtime->attachToContext(nullptr) : nullptr);
    V3Parts k = parts(v.plugin->clone());
    V3Parts* all[3] = {&v, &a, &k};
    for (int i = 0; i < 3; ++i)
    {
        V3Parts& t = *all[i];
        auto out = outs(i);
        CHECK(r, t.runtime != nullptr && t.runtime->onShapeChange(io, n, io + n, m) == 0, "onShapeChange (%d)", i);
        CHECK(r, t.runtime != nullptr && t.runtime->enqueue(io, io + n, ins, out.data(), workspace, stream) == 0,
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
// outputs[0] (and sums[0]) are timed, `sync` (the caller's stream synchronize)
// running between batches and outside the timing. *nsPerCall: the median batch's mean.
extern "C" int tln_lean_enqueue_timing(TlnLeanCase const* c, int32_t batches, int32_t perBatch,
    void (*sync)(uint64_t stream), double* nsPerCall, char* report, size_t reportLen)
{
    Report r{report, reportLen};
    if (!validCase(r, c))
    {
        return r.failures;
    }
    CaseTensors const tensors(*c);
    PluginTensorDesc const* io = tensors.io;
    DynamicPluginTensorDesc const* dio = tensors.dio;
    void const* const* ins = tensors.ins;
    int32_t const n = c->nbInputs;
    int32_t const m = tensors.nbOut;
    void* outs[kMaxOut] = {reinterpret_cast<void*>(c->outputs[0]), reinterpret_cast<void*>(c->sums[0])};
    auto stream = reinterpret_cast<cudaStream_t>(c->stream);
    Fields f(c->epsilon, c->axis, c->outputType, c->kind == kSKIP ? c->sumOutput : -1);

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
        p->configurePlugin(dio, n, dio + n, m);
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
        CHECK(r, v.build->configurePlugin(dio, n, dio + n, m) == 0, "configurePlugin");
        V3Parts w = parts(creator->createPlugin("ln", v.runtime->getFieldsToSerialize(), TensorRTPhase::kRUNTIME));
        V3Parts a = parts(w.runtime != nullptr ? w.runtime->attachToContext(nullptr) : nullptr);
        CHECK(r, a.runtime != nullptr && a.runtime->onShapeChange(io, n, io + n, m) == 0, "attachToContext, onShapeChange");
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

// Version "1" of FP32LayerNorm, FP32RMSNorm and FP32SkipLayerNorm: IPluginV2DynamicExt and its IPluginCreator.
#include "plugin.h"

#include <new>

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" // IPluginV2*: see plugin.h
#endif

namespace tln
{

using namespace nvinfer1;

TensorDescIn toDescIn(PluginTensorDesc const& d) noexcept
{
    TensorDescIn out{};
    out.dtype = static_cast<int32_t>(d.type);
    out.format = static_cast<int32_t>(d.format);
    out.nb_dims = d.dims.nbDims;
    int32_t const n = d.dims.nbDims < 0 ? 0 : (d.dims.nbDims > Dims::MAX_DIMS ? Dims::MAX_DIMS : d.dims.nbDims);
    for (int32_t i = 0; i < n; ++i)
    {
        out.dims[static_cast<size_t>(i)] = static_cast<int64_t>(d.dims.d[i]);
    }
    return out;
}

char const* pluginName(PluginKind kind) noexcept
{
    return plugin_name(kind).data(); // NUL-terminated, 'static
}

namespace
{
struct FieldNames
{
    std::vector<PluginField> fields;
    PluginFieldCollection collection{};

    explicit FieldNames(PluginKind kind)
    {
        for (size_t i = 0; i < field_count(kind); ++i)
        {
            fields.emplace_back(field_name(kind, i).data(), nullptr, static_cast<PluginFieldType>(field_type(kind, i)), 1);
        }
        collection.nbFields = static_cast<int32_t>(fields.size());
        collection.fields = fields.data();
    }
};
} // namespace

PluginFieldCollection const* fieldNames(PluginKind kind) noexcept
{
    // Built once per kind from Rust's lists; names are 'static NUL-terminated strings.
    static std::vector<FieldNames> const all = [] {
        std::vector<FieldNames> v;
        v.reserve(kNbKinds); // no reallocation: each collection points into its own list
        for (PluginKind k : kKinds)
        {
            v.emplace_back(k);
        }
        return v;
    }();
    for (size_t k = 0; k < kNbKinds; ++k)
    {
        if (kKinds[k] == kind)
        {
            return &all[k].collection;
        }
    }
    return &all[0].collection;
}

size_t workspaceSizeWith(PluginCore const& core, PluginTensorDesc const* inputs, int32_t nbInputs,
    PluginTensorDesc const* outputs, int32_t nbOutputs) noexcept
{
    if (inputs == nullptr || outputs == nullptr || nbInputs < 0 || nbInputs > kMaxInputs || nbOutputs < 0
        || nbOutputs > kMaxOutputs)
    {
        return 0; // Rust checks the kind's own counts; none is always safe to ask for.
    }
    auto const in = toDescsIn<kMaxInputs>(inputs, nbInputs);
    auto const out = toDescsIn<kMaxOutputs>(outputs, nbOutputs);
    return core.workspace_size(rust::Slice<TensorDescIn const>(in.data(), static_cast<size_t>(nbInputs)),
        rust::Slice<TensorDescIn const>(out.data(), static_cast<size_t>(nbOutputs)));
}

int32_t enqueueWith(PluginKind kind, PluginCore const& core, int32_t nbInputs, PluginTensorDesc const* inputDesc,
    PluginTensorDesc const* outputDesc, void const* const* inputs, void* const* outputs, void* workspace,
    cudaStream_t stream) noexcept
{
    // The arrays below hold the most tensors of any kind; Rust checks the kind's own counts.
    int32_t const nbOutputs = core.nb_outputs();
    if (nbInputs < 1 || nbInputs > kMaxInputs || nbOutputs < 1 || nbOutputs > kMaxOutputs || inputDesc == nullptr
        || outputDesc == nullptr || inputs == nullptr || outputs == nullptr)
    {
        logError(kind, "enqueue: the plugin was not configured or TensorRT passed no tensors");
        return 1;
    }
    auto const in = toDescsIn<kMaxInputs>(inputDesc, nbInputs);
    auto const out = toDescsIn<kMaxOutputs>(outputDesc, nbOutputs);
    auto const inPtrs = toAddresses<kMaxInputs>(inputs, nbInputs);
    auto const outPtrs = toAddresses<kMaxOutputs>(outputs, nbOutputs);
    auto const n = static_cast<size_t>(nbInputs);
    auto const m = static_cast<size_t>(nbOutputs);
    return core.enqueue(rust::Slice<TensorDescIn const>(in.data(), n), rust::Slice<TensorDescIn const>(out.data(), m),
        rust::Slice<size_t const>(inPtrs.data(), n), rust::Slice<size_t const>(outPtrs.data(), m),
        reinterpret_cast<size_t>(workspace), reinterpret_cast<size_t>(stream));
}

// ---------------------------------------------------------------------------
// NormPluginV2
// ---------------------------------------------------------------------------

NormPluginV2::NormPluginV2(PluginKind kind, rust::Box<PluginCore> core, std::string ns) noexcept
    : mKind(kind)
    , mCore(std::move(core))
    , mNamespace(std::move(ns))
{
}

char const* NormPluginV2::getPluginType() const noexcept
{
    return pluginName(mKind);
}

char const* NormPluginV2::getPluginVersion() const noexcept
{
    return kVersionV2;
}

int32_t NormPluginV2::getNbOutputs() const noexcept
{
    return mCore->nb_outputs(); // 2 for FP32SkipLayerNorm with sum_output = 1
}

int32_t NormPluginV2::initialize() noexcept
{
    return 0;
}

void NormPluginV2::terminate() noexcept {}

size_t NormPluginV2::getSerializationSize() const noexcept
{
    return mCore->serialized_size();
}

void NormPluginV2::serialize(void* buffer) const noexcept
{
    if (buffer == nullptr)
    {
        logError(mKind, "serialize: null buffer");
        return;
    }
    mCore->write_serialized(rust::Slice<uint8_t>(static_cast<uint8_t*>(buffer), mCore->serialized_size()));
}

void NormPluginV2::destroy() noexcept
{
    delete this;
}

void NormPluginV2::setPluginNamespace(char const* pluginNamespace) noexcept
{
    mNamespace = pluginNamespace != nullptr ? pluginNamespace : "";
}

char const* NormPluginV2::getPluginNamespace() const noexcept
{
    return mNamespace.c_str();
}

DataType NormPluginV2::getOutputDataType(int32_t index, DataType const* inputTypes, int32_t nbInputs) const noexcept
{
    int32_t code = static_cast<int32_t>(DataType::kFLOAT);
    if (inputTypes != nullptr && nbInputs > 0 && nbInputs <= kMaxInputs)
    {
        std::array<int32_t, kMaxInputs> types{};
        for (int32_t i = 0; i < nbInputs; ++i)
        {
            types[static_cast<size_t>(i)] = static_cast<int32_t>(inputTypes[i]);
        }
        // Rust checks the input count and the index (Y, or S), and logs a refusal.
        mCore->output_data_type(index, rust::Slice<int32_t const>(types.data(), static_cast<size_t>(nbInputs)), code);
    }
    else
    {
        mCore->check_io(inputTypes != nullptr ? nbInputs : 0, mCore->nb_outputs(), "getOutputDataType"); // logs why
    }
    return static_cast<DataType>(code);
}

IPluginV2DynamicExt* NormPluginV2::clone() const noexcept
{
    auto* p = new (std::nothrow) NormPluginV2(mKind, mCore->duplicate(), mNamespace);
    if (p == nullptr)
    {
        logError(mKind, "clone: out of memory");
    }
    return p;
}

DimsExprs NormPluginV2::getOutputDimensions(
    int32_t outputIndex, DimsExprs const* inputs, int32_t nbInputs, IExprBuilder& /*exprBuilder*/) noexcept
{
    if (inputs == nullptr || !mCore->check_output(nbInputs, outputIndex, "getOutputDimensions"))
    {
        return DimsExprs{};
    }
    return inputs[0]; // Y (and S) have X's shape.
}

bool NormPluginV2::supportsFormatCombination(
    int32_t pos, PluginTensorDesc const* inOut, int32_t nbInputs, int32_t nbOutputs) noexcept
{
    if (inOut == nullptr || nbInputs < 0 || nbOutputs < 0 || nbInputs + nbOutputs > kMaxInputs + kMaxOutputs)
    {
        mCore->check_io(nbInputs, nbOutputs, "supportsFormatCombination"); // logs why
        return false;
    }
    auto const descs = toDescsIn<kMaxInputs + kMaxOutputs>(inOut, nbInputs + nbOutputs);
    return mCore->supports_format(pos,
        rust::Slice<TensorDescIn const>(descs.data(), static_cast<size_t>(nbInputs + nbOutputs)), nbInputs, nbOutputs);
}

void NormPluginV2::configurePlugin(
    DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept
{
    if (in == nullptr || out == nullptr || !mCore->check_io(nbInputs, nbOutputs, "configurePlugin")
        || nbInputs > kMaxInputs)
    {
        return;
    }
    auto const descs = toDescsIn<kMaxInputs>(in, nbInputs);
    // A refusal is logged by Rust; IPluginV2DynamicExt::configurePlugin has no status to return,
    // and enqueue checks the shapes again.
    mCore->configure(
        rust::Slice<TensorDescIn const>(descs.data(), static_cast<size_t>(nbInputs)), nbOutputs, "configurePlugin");
}

size_t NormPluginV2::getWorkspaceSize(PluginTensorDesc const* inputs, int32_t nbInputs,
    PluginTensorDesc const* outputs, int32_t nbOutputs) const noexcept
{
    return workspaceSizeWith(*mCore, inputs, nbInputs, outputs, nbOutputs);
}

int32_t NormPluginV2::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc,
    void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept
{
    return enqueueWith(
        mKind, *mCore, mCore->configured_inputs(), inputDesc, outputDesc, inputs, outputs, workspace, stream);
}

// ---------------------------------------------------------------------------
// NormPluginV2Creator
// ---------------------------------------------------------------------------

NormPluginV2Creator::NormPluginV2Creator(PluginKind kind) noexcept
    : mKind(kind)
{
}

char const* NormPluginV2Creator::getPluginName() const noexcept
{
    return pluginName(mKind);
}

char const* NormPluginV2Creator::getPluginVersion() const noexcept
{
    return kVersionV2;
}

PluginFieldCollection const* NormPluginV2Creator::getFieldNames() noexcept
{
    return fieldNames(mKind);
}

IPluginV2* NormPluginV2Creator::createPlugin(char const* /*name*/, PluginFieldCollection const* fc) noexcept
{
    rust::Box<PluginCore> core = core_from_fields(mKind, reinterpret_cast<size_t>(fc), false, "createPlugin (version 1)");
    if (!core->is_valid())
    {
        return nullptr;
    }
    auto* p = new (std::nothrow) NormPluginV2(mKind, std::move(core), mNamespace);
    if (p == nullptr)
    {
        logError(mKind, "createPlugin: out of memory");
    }
    return p;
}

IPluginV2* NormPluginV2Creator::deserializePlugin(char const* /*name*/, void const* serialData, size_t serialLength) noexcept
{
    if (serialData == nullptr)
    {
        logError(mKind, "deserializePlugin: null data");
        return nullptr;
    }
    rust::Box<PluginCore> core = core_from_serialized(
        mKind, rust::Slice<uint8_t const>(static_cast<uint8_t const*>(serialData), serialLength));
    if (!core->is_valid())
    {
        return nullptr;
    }
    auto* p = new (std::nothrow) NormPluginV2(mKind, std::move(core), mNamespace);
    if (p == nullptr)
    {
        logError(mKind, "deserializePlugin: out of memory");
    }
    return p;
}

void NormPluginV2Creator::setPluginNamespace(char const* pluginNamespace) noexcept
{
    mNamespace = pluginNamespace != nullptr ? pluginNamespace : "";
}

char const* NormPluginV2Creator::getPluginNamespace() const noexcept
{
    return mNamespace.c_str();
}

} // namespace tln

// FP32LayerNorm version "1": IPluginV2DynamicExt and its IPluginCreator.
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

PluginFieldCollection const* fieldNames() noexcept
{
    // Built once from Rust's list; names are 'static NUL-terminated strings.
    static std::vector<PluginField> const fields = [] {
        std::vector<PluginField> v;
        for (size_t i = 0; i < field_count(); ++i)
        {
            v.emplace_back(field_name(i).data(), nullptr, static_cast<PluginFieldType>(field_type(i)), 1);
        }
        return v;
    }();
    static PluginFieldCollection const collection{static_cast<int32_t>(fields.size()), fields.data()};
    return &collection;
}

int32_t enqueueWith(PluginCore const& core, int32_t nbInputs, PluginTensorDesc const* inputDesc,
    PluginTensorDesc const* outputDesc, void const* const* inputs, void* const* outputs, cudaStream_t stream) noexcept
{
    if (nbInputs < 1 || nbInputs > 3 || inputDesc == nullptr || outputDesc == nullptr || inputs == nullptr
        || outputs == nullptr)
    {
        logError("enqueue: the plugin was not configured or TensorRT passed no tensors");
        return 1;
    }
    std::array<TensorDescIn, 3> in{};
    std::array<size_t, 3> inPtrs{};
    for (int32_t i = 0; i < nbInputs; ++i)
    {
        in[static_cast<size_t>(i)] = toDescIn(inputDesc[i]);
        inPtrs[static_cast<size_t>(i)] = reinterpret_cast<size_t>(inputs[i]);
    }
    std::array<TensorDescIn, 1> out{toDescIn(outputDesc[0])};
    std::array<size_t, 1> outPtrs{reinterpret_cast<size_t>(outputs[0])};
    auto const n = static_cast<size_t>(nbInputs);
    return core.enqueue(rust::Slice<TensorDescIn const>(in.data(), n), rust::Slice<TensorDescIn const>(out.data(), 1),
        rust::Slice<size_t const>(inPtrs.data(), n), rust::Slice<size_t const>(outPtrs.data(), 1),
        reinterpret_cast<size_t>(stream));
}

// ---------------------------------------------------------------------------
// LayerNormV2
// ---------------------------------------------------------------------------

LayerNormV2::LayerNormV2(rust::Box<PluginCore> core, std::string ns) noexcept
    : mCore(std::move(core))
    , mNamespace(std::move(ns))
{
}

char const* LayerNormV2::getPluginType() const noexcept
{
    return kPluginName;
}

char const* LayerNormV2::getPluginVersion() const noexcept
{
    return kVersionV2;
}

int32_t LayerNormV2::getNbOutputs() const noexcept
{
    return 1;
}

int32_t LayerNormV2::initialize() noexcept
{
    return 0;
}

void LayerNormV2::terminate() noexcept {}

size_t LayerNormV2::getSerializationSize() const noexcept
{
    return mCore->serialized_size();
}

void LayerNormV2::serialize(void* buffer) const noexcept
{
    if (buffer == nullptr)
    {
        logError("serialize: null buffer");
        return;
    }
    mCore->write_serialized(rust::Slice<uint8_t>(static_cast<uint8_t*>(buffer), mCore->serialized_size()));
}

void LayerNormV2::destroy() noexcept
{
    delete this;
}

void LayerNormV2::setPluginNamespace(char const* pluginNamespace) noexcept
{
    mNamespace = pluginNamespace != nullptr ? pluginNamespace : "";
}

char const* LayerNormV2::getPluginNamespace() const noexcept
{
    return mNamespace.c_str();
}

DataType LayerNormV2::getOutputDataType(int32_t index, DataType const* inputTypes, int32_t nbInputs) const noexcept
{
    int32_t code = static_cast<int32_t>(DataType::kFLOAT);
    if (index == 0 && inputTypes != nullptr && nbInputs > 0 && nbInputs <= 3)
    {
        std::array<int32_t, 3> types{};
        for (int32_t i = 0; i < nbInputs; ++i)
        {
            types[static_cast<size_t>(i)] = static_cast<int32_t>(inputTypes[i]);
        }
        mCore->output_data_type(rust::Slice<int32_t const>(types.data(), static_cast<size_t>(nbInputs)), code);
    }
    else
    {
        mCore->check_io(inputTypes != nullptr ? nbInputs : 0, index + 1, "getOutputDataType");
    }
    return static_cast<DataType>(code);
}

IPluginV2DynamicExt* LayerNormV2::clone() const noexcept
{
    auto* p = new (std::nothrow) LayerNormV2(mCore->duplicate(), mNamespace);
    if (p == nullptr)
    {
        logError("clone: out of memory");
    }
    return p;
}

DimsExprs LayerNormV2::getOutputDimensions(
    int32_t outputIndex, DimsExprs const* inputs, int32_t nbInputs, IExprBuilder& /*exprBuilder*/) noexcept
{
    if (inputs == nullptr || !mCore->check_io(nbInputs, outputIndex + 1, "getOutputDimensions") || outputIndex != 0)
    {
        return DimsExprs{};
    }
    return inputs[0]; // Y has X's shape.
}

bool LayerNormV2::supportsFormatCombination(
    int32_t pos, PluginTensorDesc const* inOut, int32_t nbInputs, int32_t nbOutputs) noexcept
{
    if (inOut == nullptr || nbInputs < 0 || nbOutputs < 0 || nbInputs + nbOutputs > 4)
    {
        mCore->check_io(nbInputs, nbOutputs, "supportsFormatCombination"); // logs why
        return false;
    }
    std::array<TensorDescIn, 4> descs{};
    for (int32_t i = 0; i < nbInputs + nbOutputs; ++i)
    {
        descs[static_cast<size_t>(i)] = toDescIn(inOut[i]);
    }
    return mCore->supports_format(pos,
        rust::Slice<TensorDescIn const>(descs.data(), static_cast<size_t>(nbInputs + nbOutputs)), nbInputs, nbOutputs);
}

void LayerNormV2::configurePlugin(
    DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept
{
    if (in == nullptr || out == nullptr || !mCore->check_io(nbInputs, nbOutputs, "configurePlugin"))
    {
        return;
    }
    std::array<TensorDescIn, 3> descs{};
    for (int32_t i = 0; i < nbInputs; ++i)
    {
        descs[static_cast<size_t>(i)] = toDescIn(in[i].desc);
    }
    // A refusal is logged by Rust; IPluginV2DynamicExt::configurePlugin has no status to return,
    // and enqueue checks the shapes again.
    mCore->configure(
        rust::Slice<TensorDescIn const>(descs.data(), static_cast<size_t>(nbInputs)), nbOutputs, "configurePlugin");
}

size_t LayerNormV2::getWorkspaceSize(PluginTensorDesc const* /*inputs*/, int32_t /*nbInputs*/,
    PluginTensorDesc const* /*outputs*/, int32_t /*nbOutputs*/) const noexcept
{
    return 0;
}

int32_t LayerNormV2::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc,
    void const* const* inputs, void* const* outputs, void* /*workspace*/, cudaStream_t stream) noexcept
{
    return enqueueWith(*mCore, mCore->configured_inputs(), inputDesc, outputDesc, inputs, outputs, stream);
}

// ---------------------------------------------------------------------------
// LayerNormV2Creator
// ---------------------------------------------------------------------------

char const* LayerNormV2Creator::getPluginName() const noexcept
{
    return kPluginName;
}

char const* LayerNormV2Creator::getPluginVersion() const noexcept
{
    return kVersionV2;
}

PluginFieldCollection const* LayerNormV2Creator::getFieldNames() noexcept
{
    return fieldNames();
}

IPluginV2* LayerNormV2Creator::createPlugin(char const* /*name*/, PluginFieldCollection const* fc) noexcept
{
    rust::Box<PluginCore> core = core_from_fields(reinterpret_cast<size_t>(fc), "createPlugin (version 1)");
    if (!core->is_valid())
    {
        return nullptr;
    }
    auto* p = new (std::nothrow) LayerNormV2(std::move(core), mNamespace);
    if (p == nullptr)
    {
        logError("createPlugin: out of memory");
    }
    return p;
}

IPluginV2* LayerNormV2Creator::deserializePlugin(char const* /*name*/, void const* serialData, size_t serialLength) noexcept
{
    if (serialData == nullptr)
    {
        logError("deserializePlugin: null data");
        return nullptr;
    }
    rust::Box<PluginCore> core
        = core_from_serialized(rust::Slice<uint8_t const>(static_cast<uint8_t const*>(serialData), serialLength));
    if (!core->is_valid())
    {
        return nullptr;
    }
    auto* p = new (std::nothrow) LayerNormV2(std::move(core), mNamespace);
    if (p == nullptr)
    {
        logError("deserializePlugin: out of memory");
    }
    return p;
}

void LayerNormV2Creator::setPluginNamespace(char const* pluginNamespace) noexcept
{
    mNamespace = pluginNamespace != nullptr ? pluginNamespace : "";
}

char const* LayerNormV2Creator::getPluginNamespace() const noexcept
{
    return mNamespace.c_str();
}

} // namespace tln

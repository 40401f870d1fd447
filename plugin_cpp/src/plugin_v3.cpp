// FP32LayerNorm version "2": IPluginV3 (OneCore/OneBuild/OneRuntime) and IPluginCreatorV3One, TensorRT >= 10.
#include "plugin.h"

#if TLN_HAS_V3

#include <new>

namespace tln
{

using namespace nvinfer1;

LayerNormV3::LayerNormV3(rust::Box<PluginCore> core, std::string ns) noexcept
    : mCore(std::move(core))
    , mNamespace(std::move(ns))
{
}

IPluginCapability* LayerNormV3::getCapabilityInterface(PluginCapabilityType type) noexcept
{
    switch (type)
    {
    case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
    case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
    case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
    }
    return nullptr;
}

IPluginV3* LayerNormV3::clone() noexcept
{
    auto* p = new (std::nothrow) LayerNormV3(mCore->duplicate(), mNamespace);
    if (p == nullptr)
    {
        logError("clone: out of memory");
    }
    return p;
}

char const* LayerNormV3::getPluginName() const noexcept
{
    return kPluginName;
}

char const* LayerNormV3::getPluginVersion() const noexcept
{
    return kVersionV3;
}

char const* LayerNormV3::getPluginNamespace() const noexcept
{
    return mNamespace.c_str();
}

int32_t LayerNormV3::configurePlugin(
    DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept
{
    if (in == nullptr || out == nullptr || !mCore->check_io(nbInputs, nbOutputs, "configurePlugin"))
    {
        return -1;
    }
    std::array<TensorDescIn, 3> descs{};
    for (int32_t i = 0; i < nbInputs; ++i)
    {
        descs[static_cast<size_t>(i)] = toDescIn(in[i].desc);
    }
    bool const ok = mCore->configure(
        rust::Slice<TensorDescIn const>(descs.data(), static_cast<size_t>(nbInputs)), nbOutputs, "configurePlugin");
    return ok ? 0 : -1;
}

int32_t LayerNormV3::getOutputDataTypes(
    DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes, int32_t nbInputs) const noexcept
{
    if (outputTypes == nullptr || inputTypes == nullptr || !mCore->check_io(nbInputs, nbOutputs, "getOutputDataTypes"))
    {
        return -1;
    }
    std::array<int32_t, 3> types{};
    for (int32_t i = 0; i < nbInputs; ++i)
    {
        types[static_cast<size_t>(i)] = static_cast<int32_t>(inputTypes[i]);
    }
    int32_t code = 0;
    if (!mCore->output_data_type(rust::Slice<int32_t const>(types.data(), static_cast<size_t>(nbInputs)), code))
    {
        return -1;
    }
    outputTypes[0] = static_cast<DataType>(code);
    return 0;
}

int32_t LayerNormV3::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const* /*shapeInputs*/,
    int32_t /*nbShapeInputs*/, DimsExprs* outputs, int32_t nbOutputs, IExprBuilder& /*exprBuilder*/) noexcept
{
    if (inputs == nullptr || outputs == nullptr || !mCore->check_io(nbInputs, nbOutputs, "getOutputShapes"))
    {
        return -1;
    }
    outputs[0] = inputs[0]; // Y has X's shape.
    return 0;
}

bool LayerNormV3::supportsFormatCombination(
    int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs, int32_t nbOutputs) noexcept
{
    if (inOut == nullptr || nbInputs < 0 || nbOutputs < 0 || nbInputs + nbOutputs > 4)
    {
        mCore->check_io(nbInputs, nbOutputs, "supportsFormatCombination"); // logs why
        return false;
    }
    std::array<TensorDescIn, 4> descs{};
    for (int32_t i = 0; i < nbInputs + nbOutputs; ++i)
    {
        descs[static_cast<size_t>(i)] = toDescIn(inOut[i].desc);
    }
    return mCore->supports_format(pos,
        rust::Slice<TensorDescIn const>(descs.data(), static_cast<size_t>(nbInputs + nbOutputs)), nbInputs, nbOutputs);
}

int32_t LayerNormV3::getNbOutputs() const noexcept
{
    return 1;
}

int32_t LayerNormV3::onShapeChange(
    PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* out, int32_t nbOutputs) noexcept
{
    if (in == nullptr || out == nullptr || !mCore->check_io(nbInputs, nbOutputs, "onShapeChange"))
    {
        return -1;
    }
    std::array<TensorDescIn, 3> descs{};
    for (int32_t i = 0; i < nbInputs; ++i)
    {
        descs[static_cast<size_t>(i)] = toDescIn(in[i]);
    }
    bool const ok = mCore->configure(
        rust::Slice<TensorDescIn const>(descs.data(), static_cast<size_t>(nbInputs)), nbOutputs, "onShapeChange");
    return ok ? 0 : -1;
}

int32_t LayerNormV3::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc,
    void const* const* inputs, void* const* outputs, void* /*workspace*/, cudaStream_t stream) noexcept
{
    return enqueueWith(*mCore, mCore->configured_inputs(), inputDesc, outputDesc, inputs, outputs, stream);
}

IPluginV3* LayerNormV3::attachToContext(IPluginResourceContext* /*context*/) noexcept
{
    return clone();
}

PluginFieldCollection const* LayerNormV3::getFieldsToSerialize() noexcept
{
    mEpsilon = mCore->epsilon();
    mAxis = mCore->axis();
    mOutputType = mCore->output_type();
    mFields[0] = PluginField(field_name(0).data(), &mEpsilon, static_cast<PluginFieldType>(field_type(0)), 1);
    mFields[1] = PluginField(field_name(1).data(), &mAxis, static_cast<PluginFieldType>(field_type(1)), 1);
    mFields[2] = PluginField(field_name(2).data(), &mOutputType, static_cast<PluginFieldType>(field_type(2)), 1);
    mCollection.nbFields = static_cast<int32_t>(mFields.size());
    mCollection.fields = mFields.data();
    return &mCollection;
}

// ---------------------------------------------------------------------------
// LayerNormV3Creator
// ---------------------------------------------------------------------------

IPluginV3* LayerNormV3Creator::createPlugin(
    char const* /*name*/, PluginFieldCollection const* fc, TensorRTPhase /*phase*/) noexcept
{
    rust::Box<PluginCore> core = core_from_fields(reinterpret_cast<size_t>(fc), "createPlugin (version 2)");
    if (!core->is_valid())
    {
        return nullptr;
    }
    auto* p = new (std::nothrow) LayerNormV3(std::move(core), mNamespace);
    if (p == nullptr)
    {
        logError("createPlugin: out of memory");
    }
    return p;
}

PluginFieldCollection const* LayerNormV3Creator::getFieldNames() noexcept
{
    return fieldNames();
}

char const* LayerNormV3Creator::getPluginName() const noexcept
{
    return kPluginName;
}

char const* LayerNormV3Creator::getPluginVersion() const noexcept
{
    return kVersionV3;
}

char const* LayerNormV3Creator::getPluginNamespace() const noexcept
{
    return mNamespace.c_str();
}

void LayerNormV3Creator::setNamespace(char const* ns) noexcept
{
    mNamespace = ns != nullptr ? ns : "";
}

} // namespace tln

#endif // TLN_HAS_V3

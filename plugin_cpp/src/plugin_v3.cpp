// Version "2" of FP32LayerNorm and FP32RMSNorm: IPluginV3 (OneCore/OneBuild/OneRuntime) and IPluginCreatorV3One, TensorRT >= 10.
#include "plugin.h"

#if TLN_HAS_V3

#include <new>

namespace tln
{

using namespace nvinfer1;

NormPluginV3::NormPluginV3(PluginKind kind, rust::Box<PluginCore> core, std::string ns) noexcept
    : mKind(kind)
    , mCore(std::move(core))
    , mNamespace(std::move(ns))
{
}

IPluginCapability* NormPluginV3::getCapabilityInterface(PluginCapabilityType type) noexcept
{
    switch (type)
    {
    case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
    case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
    case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
    }
    return nullptr;
}

IPluginV3* NormPluginV3::clone() noexcept
{
    auto* p = new (std::nothrow) NormPluginV3(mKind, mCore->duplicate(), mNamespace);
    if (p == nullptr)
    {
        logError(mKind, "clone: out of memory");
    }
    return p;
}

char const* NormPluginV3::getPluginName() const noexcept
{
    return pluginName(mKind);
}

char const* NormPluginV3::getPluginVersion() const noexcept
{
    return kVersionV3;
}

char const* NormPluginV3::getPluginNamespace() const noexcept
{
    return mNamespace.c_str();
}

int32_t NormPluginV3::configurePlugin(
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

int32_t NormPluginV3::getOutputDataTypes(
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

int32_t NormPluginV3::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const* /*shapeInputs*/,
    int32_t /*nbShapeInputs*/, DimsExprs* outputs, int32_t nbOutputs, IExprBuilder& /*exprBuilder*/) noexcept
{
    if (inputs == nullptr || outputs == nullptr || !mCore->check_io(nbInputs, nbOutputs, "getOutputShapes"))
    {
        return -1;
    }
    outputs[0] = inputs[0]; // Y has X's shape.
    return 0;
}

bool NormPluginV3::supportsFormatCombination(
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

int32_t NormPluginV3::getNbOutputs() const noexcept
{
    return 1;
}

int32_t NormPluginV3::onShapeChange(
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

int32_t NormPluginV3::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc,
    void const* const* inputs, void* const* outputs, void* /*workspace*/, cudaStream_t stream) noexcept
{
    return enqueueWith(mKind, *mCore, mCore->configured_inputs(), inputDesc, outputDesc, inputs, outputs, stream);
}

IPluginV3* NormPluginV3::attachToContext(IPluginResourceContext* /*context*/) noexcept
{
    return clone();
}

PluginFieldCollection const* NormPluginV3::getFieldsToSerialize() noexcept
{
    mEpsilon = mCore->epsilon();
    mAxis = mCore->axis();
    mOutputType = mCore->output_type();
    // Every kind has these three fields (src/plugin/fields.rs: field_specs).
    mFields[0] = PluginField(field_name(mKind, 0).data(), &mEpsilon, static_cast<PluginFieldType>(field_type(mKind, 0)), 1);
    mFields[1] = PluginField(field_name(mKind, 1).data(), &mAxis, static_cast<PluginFieldType>(field_type(mKind, 1)), 1);
    mFields[2]
        = PluginField(field_name(mKind, 2).data(), &mOutputType, static_cast<PluginFieldType>(field_type(mKind, 2)), 1);
    mCollection.nbFields = static_cast<int32_t>(mFields.size());
    mCollection.fields = mFields.data();
    return &mCollection;
}

// ---------------------------------------------------------------------------
// NormPluginV3Creator
// ---------------------------------------------------------------------------

IPluginV3* NormPluginV3Creator::createPlugin(
    char const* /*name*/, PluginFieldCollection const* fc, TensorRTPhase /*phase*/) noexcept
{
    rust::Box<PluginCore> core = core_from_fields(mKind, reinterpret_cast<size_t>(fc), "createPlugin (version 2)");
    if (!core->is_valid())
    {
        return nullptr;
    }
    auto* p = new (std::nothrow) NormPluginV3(mKind, std::move(core), mNamespace);
    if (p == nullptr)
    {
        logError(mKind, "createPlugin: out of memory");
    }
    return p;
}

PluginFieldCollection const* NormPluginV3Creator::getFieldNames() noexcept
{
    return fieldNames(mKind);
}

NormPluginV3Creator::NormPluginV3Creator(PluginKind kind) noexcept
    : mKind(kind)
{
}

char const* NormPluginV3Creator::getPluginName() const noexcept
{
    return pluginName(mKind);
}

char const* NormPluginV3Creator::getPluginVersion() const noexcept
{
    return kVersionV3;
}

char const* NormPluginV3Creator::getPluginNamespace() const noexcept
{
    return mNamespace.c_str();
}

void NormPluginV3Creator::setNamespace(char const* ns) noexcept
{
    mNamespace = ns != nullptr ? ns : "";
}

} // namespace tln

#endif // TLN_HAS_V3

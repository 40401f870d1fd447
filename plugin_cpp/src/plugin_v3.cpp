// Version "2" of FP32LayerNorm, FP32RMSNorm and FP32SkipLayerNorm: IPluginV3 (OneCore/OneBuild/OneRuntime) and IPluginCreatorV3One, TensorRT >= 10.
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
    if (in == nullptr || out == nullptr || !mCore->check_io(nbInputs, nbOutputs, "configurePlugin")
        || nbInputs > kMaxInputs)
    {
        return -1;
    }
    auto const descs = toDescsIn<kMaxInputs>(in, nbInputs);
    bool const ok = mCore->configure(
        rust::Slice<TensorDescIn const>(descs.data(), static_cast<size_t>(nbInputs)), nbOutputs, "configurePlugin");
    return ok ? 0 : -1;
}

int32_t NormPluginV3::getOutputDataTypes(
    DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes, int32_t nbInputs) const noexcept
{
    if (outputTypes == nullptr || inputTypes == nullptr || !mCore->check_io(nbInputs, nbOutputs, "getOutputDataTypes")
        || nbInputs > kMaxInputs)
    {
        return -1;
    }
    std::array<int32_t, kMaxInputs> types{};
    for (int32_t i = 0; i < nbInputs; ++i)
    {
        types[static_cast<size_t>(i)] = static_cast<int32_t>(inputTypes[i]);
    }
    for (int32_t o = 0; o < nbOutputs; ++o)
    {
        int32_t code = 0;
        if (!mCore->output_data_type(o, rust::Slice<int32_t const>(types.data(), static_cast<size_t>(nbInputs)), code))
        {
            return -1;
        }
        outputTypes[o] = static_cast<DataType>(code);
    }
    return 0;
}

int32_t NormPluginV3::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const* /*shapeInputs*/,
    int32_t /*nbShapeInputs*/, DimsExprs* outputs, int32_t nbOutputs, IExprBuilder& /*exprBuilder*/) noexcept
{
    if (inputs == nullptr || outputs == nullptr || !mCore->check_io(nbInputs, nbOutputs, "getOutputShapes"))
    {
        return -1;
    }
    for (int32_t o = 0; o < nbOutputs; ++o)
    {
        outputs[o] = inputs[0]; // Y (and S) have X's shape.
    }
    return 0;
}

bool NormPluginV3::supportsFormatCombination(
    int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs, int32_t nbOutputs) noexcept
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

int32_t NormPluginV3::getNbOutputs() const noexcept
{
    return mCore->nb_outputs(); // 2 for FP32SkipLayerNorm with sum_output = 1
}

int32_t NormPluginV3::onShapeChange(
    PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* out, int32_t nbOutputs) noexcept
{
    if (in == nullptr || out == nullptr || !mCore->check_io(nbInputs, nbOutputs, "onShapeChange")
        || nbInputs > kMaxInputs)
    {
        return -1;
    }
    auto const descs = toDescsIn<kMaxInputs>(in, nbInputs);
    bool const ok = mCore->configure(
        rust::Slice<TensorDescIn const>(descs.data(), static_cast<size_t>(nbInputs)), nbOutputs, "onShapeChange");
    return ok ? 0 : -1;
}

size_t NormPluginV3::getWorkspaceSize(DynamicPluginTensorDesc const* inputs, int32_t nbInputs,
    DynamicPluginTensorDesc const* outputs, int32_t nbOutputs) const noexcept
{
    if (inputs == nullptr || outputs == nullptr || nbInputs < 0 || nbInputs > kMaxInputs || nbOutputs < 0
        || nbOutputs > kMaxOutputs)
    {
        return 0;
    }
    // The largest shapes the engine will run (`max`): enough for every smaller one.
    std::array<PluginTensorDesc, kMaxInputs + kMaxOutputs> largest{};
    for (int32_t i = 0; i < nbInputs + nbOutputs; ++i)
    {
        DynamicPluginTensorDesc const& d = i < nbInputs ? inputs[i] : outputs[i - nbInputs];
        largest[static_cast<size_t>(i)] = d.desc;
        largest[static_cast<size_t>(i)].dims = d.max;
    }
    return workspaceSizeWith(*mCore, largest.data(), nbInputs, largest.data() + nbInputs, nbOutputs);
}

int32_t NormPluginV3::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc,
    void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept
{
    return enqueueWith(
        mKind, *mCore, mCore->configured_inputs(), inputDesc, outputDesc, inputs, outputs, workspace, stream);
}

IPluginV3* NormPluginV3::attachToContext(IPluginResourceContext* /*context*/) noexcept
{
    return clone();
}

PluginFieldCollection const* NormPluginV3::getFieldsToSerialize() noexcept
{
    // The kind's fields in getFieldNames order (src/plugin/fields.rs: field_specs), each
    // one 4-byte element (float32 or int32) whose bytes Rust hands out.
    size_t const n = field_count(mKind);
    if (n > kMaxFields)
    {
        logError(mKind, "getFieldsToSerialize: more fields than this build's storage");
        return nullptr;
    }
    for (size_t i = 0; i < n; ++i)
    {
        mValues[i] = mCore->field_bits(i);
        mFields[i] = PluginField(field_name(mKind, i).data(), &mValues[i], static_cast<PluginFieldType>(field_type(mKind, i)), 1);
    }
    mCollection.nbFields = static_cast<int32_t>(n);
    mCollection.fields = mFields.data();
    return &mCollection;
}

// ---------------------------------------------------------------------------
// NormPluginV3Creator
// ---------------------------------------------------------------------------

IPluginV3* NormPluginV3Creator::createPlugin(
    char const* /*name*/, PluginFieldCollection const* fc, TensorRTPhase phase) noexcept
{
    // At run time the fields are the engine's (getFieldsToSerialize); a missing `workspace`
    // then means an engine built before the field, which asked TensorRT for none.
    bool const fromEngine = phase == TensorRTPhase::kRUNTIME;
    rust::Box<PluginCore> core
        = core_from_fields(mKind, reinterpret_cast<size_t>(fc), fromEngine, "createPlugin (version 2)");
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

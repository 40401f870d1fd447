// The TensorRT classes of FP32LayerNorm, FP32RMSNorm and FP32SkipLayerNorm:
// thin shims over the Rust `PluginCore` (src/plugin/bridge.rs), which makes
// every decision (input and output counts included). One class per interface;
// the norm kind (PluginKind, from the bridge) is a member, and one creator
// object per interface and kind. Nothing here throws.
#pragma once

#include <NvInferRuntime.h>

#include "rust/cxx.h"
#include "trt-layernorm/src/plugin/bridge.rs.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#if NV_TENSORRT_MAJOR >= 10
#define TLN_HAS_V3 1
#else
#define TLN_HAS_V3 0
#endif

namespace tln
{

// Every kind has the same versions (the names come from Rust: pluginName).
constexpr char const* kVersionV2 = "1";
constexpr char const* kVersionV3 = "2";

// The codes Rust reads (src/plugin/config.rs, src/plugin/fields.rs) are TensorRT's.
static_assert(static_cast<int32_t>(nvinfer1::DataType::kFLOAT) == 0, "DataType::kFLOAT");
static_assert(static_cast<int32_t>(nvinfer1::DataType::kHALF) == 1, "DataType::kHALF");
#if NV_TENSORRT_MAJOR >= 9
static_assert(static_cast<int32_t>(nvinfer1::DataType::kBF16) == 7, "DataType::kBF16");
#endif
static_assert(static_cast<int32_t>(nvinfer1::TensorFormat::kLINEAR) == 0, "TensorFormat::kLINEAR");
static_assert(static_cast<int32_t>(nvinfer1::PluginFieldType::kFLOAT32) == 1, "PluginFieldType::kFLOAT32");
static_assert(static_cast<int32_t>(nvinfer1::PluginFieldType::kINT32) == 5, "PluginFieldType::kINT32");
static_assert(nvinfer1::Dims::MAX_DIMS == 8, "Dims::MAX_DIMS");
// Rust reads PluginField / PluginFieldCollection by address with this layout (bridge.rs).
static_assert(sizeof(nvinfer1::PluginField) == 24, "PluginField size");
static_assert(offsetof(nvinfer1::PluginField, name) == 0, "PluginField::name");
static_assert(offsetof(nvinfer1::PluginField, data) == 8, "PluginField::data");
static_assert(offsetof(nvinfer1::PluginField, type) == 16, "PluginField::type");
static_assert(offsetof(nvinfer1::PluginField, length) == 20, "PluginField::length");
static_assert(sizeof(nvinfer1::PluginFieldCollection) == 16, "PluginFieldCollection size");
static_assert(offsetof(nvinfer1::PluginFieldCollection, fields) == 8, "PluginFieldCollection::fields");

// A PluginTensorDesc as the bridge carries it.
TensorDescIn toDescIn(nvinfer1::PluginTensorDesc const& d) noexcept;

// The tensor description of either kind of descriptor TensorRT passes.
inline nvinfer1::PluginTensorDesc const& descOf(nvinfer1::PluginTensorDesc const& d) noexcept
{
    return d;
}
inline nvinfer1::PluginTensorDesc const& descOf(nvinfer1::DynamicPluginTensorDesc const& d) noexcept
{
    return d.desc;
}

// The first `n` of `descs` as the bridge carries them, in an array of N; the caller has
// checked 0 <= n <= N. One conversion for every place the plugins hand tensors to Rust.
template <size_t N, class Desc>
std::array<TensorDescIn, N> toDescsIn(Desc const* descs, int32_t n) noexcept
{
    std::array<TensorDescIn, N> out{};
    for (int32_t i = 0; i < n; ++i)
    {
        out[static_cast<size_t>(i)] = toDescIn(descOf(descs[i]));
    }
    return out;
}

// The first `n` of `ptrs` (device addresses) as the bridge carries them; 0 <= n <= N.
template <size_t N, class Ptr>
std::array<size_t, N> toAddresses(Ptr const* ptrs, int32_t n) noexcept
{
    std::array<size_t, N> out{};
    for (int32_t i = 0; i < n; ++i)
    {
        out[static_cast<size_t>(i)] = reinterpret_cast<size_t>(ptrs[i]);
    }
    return out;
}

// Every kind this library has a creator for, in registration order.
constexpr PluginKind kKinds[] = {PluginKind::LayerNorm, PluginKind::RmsNorm, PluginKind::SkipLayerNorm};
constexpr size_t kNbKinds = sizeof(kKinds) / sizeof(kKinds[0]);

// Array sizes for the most tensors and fields of any kind (Rust: config::MAX_INPUTS,
// config::MAX_OUTPUTS, fields::MAX_KIND_FIELDS; its tests keep every kind within them).
// Counts beyond them are refused (logged) before any array is filled.
constexpr int32_t kMaxInputs = 5;  // FP32SkipLayerNorm: X, Skip, Scale, Bias, ResidualBias
constexpr int32_t kMaxOutputs = 2; // FP32SkipLayerNorm with sum_output = 1: Y, S
constexpr size_t kMaxFields = 8;

// "FP32LayerNorm" / "FP32RMSNorm" / "FP32SkipLayerNorm" (a static string owned by Rust).
char const* pluginName(PluginKind kind) noexcept;

// getFieldNames: the fields Rust declares for `kind`, as a static collection.
nvinfer1::PluginFieldCollection const* fieldNames(PluginKind kind) noexcept;

// Writes "<plugin name>: <msg>" to the logger as an error.
void logError(PluginKind kind, char const* msg) noexcept;

// IPluginV2DynamicExt is deprecated from TensorRT 10 but is version "1" of
// this plugin (the only kind TensorRT 8.6 knows); the deprecation warnings
// its use raises are expected.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif

class NormPluginV2 final : public nvinfer1::IPluginV2DynamicExt
{
public:
    NormPluginV2(PluginKind kind, rust::Box<PluginCore> core, std::string ns) noexcept;

    // IPluginV2
    char const* getPluginType() const noexcept override;
    char const* getPluginVersion() const noexcept override;
    int32_t getNbOutputs() const noexcept override;
    int32_t initialize() noexcept override;
    void terminate() noexcept override;
    size_t getSerializationSize() const noexcept override;
    void serialize(void* buffer) const noexcept override;
    void destroy() noexcept override;
    void setPluginNamespace(char const* pluginNamespace) noexcept override;
    char const* getPluginNamespace() const noexcept override;

    // IPluginV2Ext
    nvinfer1::DataType getOutputDataType(
        int32_t index, nvinfer1::DataType const* inputTypes, int32_t nbInputs) const noexcept override;

    // IPluginV2DynamicExt
    nvinfer1::IPluginV2DynamicExt* clone() const noexcept override;
    nvinfer1::DimsExprs getOutputDimensions(int32_t outputIndex, nvinfer1::DimsExprs const* inputs, int32_t nbInputs,
        nvinfer1::IExprBuilder& exprBuilder) noexcept override;
    bool supportsFormatCombination(
        int32_t pos, nvinfer1::PluginTensorDesc const* inOut, int32_t nbInputs, int32_t nbOutputs) noexcept override;
    void configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
        nvinfer1::DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    size_t getWorkspaceSize(nvinfer1::PluginTensorDesc const* inputs, int32_t nbInputs,
        nvinfer1::PluginTensorDesc const* outputs, int32_t nbOutputs) const noexcept override;
    int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const* outputDesc,
        void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept override;

private:
    PluginKind mKind;
    rust::Box<PluginCore> mCore;
    std::string mNamespace;
};

class NormPluginV2Creator final : public nvinfer1::IPluginCreator
{
public:
    explicit NormPluginV2Creator(PluginKind kind) noexcept;
    NormPluginV2Creator(NormPluginV2Creator const&) = delete;
    NormPluginV2Creator& operator=(NormPluginV2Creator const&) = delete;

    char const* getPluginName() const noexcept override;
    char const* getPluginVersion() const noexcept override;
    nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override;
    nvinfer1::IPluginV2* createPlugin(char const* name, nvinfer1::PluginFieldCollection const* fc) noexcept override;
    nvinfer1::IPluginV2* deserializePlugin(char const* name, void const* serialData, size_t serialLength) noexcept override;
    void setPluginNamespace(char const* pluginNamespace) noexcept override;
    char const* getPluginNamespace() const noexcept override;

private:
    PluginKind mKind;
    std::string mNamespace;
};

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#if TLN_HAS_V3
class NormPluginV3 final : public nvinfer1::IPluginV3,
                          public nvinfer1::IPluginV3OneCore,
                          public nvinfer1::IPluginV3OneBuild,
                          public nvinfer1::IPluginV3OneRuntime
{
public:
    NormPluginV3(PluginKind kind, rust::Box<PluginCore> core, std::string ns) noexcept;

    // IPluginV3
    nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override;
    nvinfer1::IPluginV3* clone() noexcept override;

    // IPluginV3OneCore
    char const* getPluginName() const noexcept override;
    char const* getPluginVersion() const noexcept override;
    char const* getPluginNamespace() const noexcept override;

    // IPluginV3OneBuild
    int32_t configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
        nvinfer1::DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    int32_t getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs,
        nvinfer1::DataType const* inputTypes, int32_t nbInputs) const noexcept override;
    int32_t getOutputShapes(nvinfer1::DimsExprs const* inputs, int32_t nbInputs, nvinfer1::DimsExprs const* shapeInputs,
        int32_t nbShapeInputs, nvinfer1::DimsExprs* outputs, int32_t nbOutputs,
        nvinfer1::IExprBuilder& exprBuilder) noexcept override;
    bool supportsFormatCombination(int32_t pos, nvinfer1::DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
        int32_t nbOutputs) noexcept override;
    int32_t getNbOutputs() const noexcept override;
    size_t getWorkspaceSize(nvinfer1::DynamicPluginTensorDesc const* inputs, int32_t nbInputs,
        nvinfer1::DynamicPluginTensorDesc const* outputs, int32_t nbOutputs) const noexcept override;

    // IPluginV3OneRuntime
    int32_t onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs,
        nvinfer1::PluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const* outputDesc,
        void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept override;
    nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext* context) noexcept override;
    nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override;

private:
    PluginKind mKind;
    rust::Box<PluginCore> mCore;
    std::string mNamespace;
    // Storage behind getFieldsToSerialize (valid until the next call or destruction):
    // each field's 4 bytes (float32 bits or int32), as Rust hands them out.
    std::array<uint32_t, kMaxFields> mValues{};
    std::array<nvinfer1::PluginField, kMaxFields> mFields{};
    nvinfer1::PluginFieldCollection mCollection{};
};

class NormPluginV3Creator final : public nvinfer1::IPluginCreatorV3One
{
public:
    explicit NormPluginV3Creator(PluginKind kind) noexcept;
    NormPluginV3Creator(NormPluginV3Creator const&) = delete;
    NormPluginV3Creator& operator=(NormPluginV3Creator const&) = delete;

    nvinfer1::IPluginV3* createPlugin(
        char const* name, nvinfer1::PluginFieldCollection const* fc, nvinfer1::TensorRTPhase phase) noexcept override;
    nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override;
    char const* getPluginName() const noexcept override;
    char const* getPluginVersion() const noexcept override;
    char const* getPluginNamespace() const noexcept override;

    void setNamespace(char const* ns) noexcept;

private:
    PluginKind mKind;
    std::string mNamespace;
};
#endif

// Shared getWorkspaceSize: the descriptions (the largest shapes TensorRT will run) handed to Rust.
size_t workspaceSizeWith(PluginCore const& core, nvinfer1::PluginTensorDesc const* inputs, int32_t nbInputs,
    nvinfer1::PluginTensorDesc const* outputs, int32_t nbOutputs) noexcept;

// Shared enqueue: descriptions and pointers of `nbInputs` inputs and the plugin's outputs, and
// TensorRT's workspace, handed to Rust.
int32_t enqueueWith(PluginKind kind, PluginCore const& core, int32_t nbInputs, nvinfer1::PluginTensorDesc const* inputDesc,
    nvinfer1::PluginTensorDesc const* outputDesc, void const* const* inputs, void* const* outputs, void* workspace,
    cudaStream_t stream) noexcept;

} // namespace tln

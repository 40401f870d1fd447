// The C++ side of the `builtin` criterion group (benches/layernorm.rs): with a
// full TensorRT (libnvinfer with its builder, loaded at run time, never linked),
// builds two one-layer engines on the same input, TensorRT's own normalization
// layer (INormalizationLayer, strongly typed: it runs in X's type) and
// FP32LayerNorm from this crate's plugin library (loaded into TensorRT's
// registry with loadLibrary), and enqueues them with enqueueV3 on the caller's
// stream. Timing, buffers and the skip decision stay in Rust.
#include <NvInfer.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace nvinfer1;

#if NV_TENSORRT_MAJOR >= 10

namespace
{

// Writes printf-style text into the caller's report buffer (always NUL-terminated).
void say(char* report, size_t len, char const* fmt, ...) __attribute__((format(printf, 3, 4)));
void say(char* report, size_t len, char const* fmt, ...)
{
    if (report == nullptr || len == 0)
    {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(report, len, fmt, ap);
    va_end(ap);
}

// TensorRT's messages of warning level and above, kept for the report.
class Logger : public ILogger
{
public:
    void log(Severity severity, AsciiChar const* msg) noexcept override
    {
        if (severity > Severity::kWARNING)
        {
            return;
        }
        std::lock_guard<std::mutex> lock(mMutex);
        mText = msg; // the last one: what a failed call complained about
    }
    std::string last()
    {
        std::lock_guard<std::mutex> lock(mMutex);
        return mText;
    }

private:
    std::mutex mMutex;
    std::string mText;
};

Logger& logger()
{
    static Logger l;
    return l;
}

// libnvinfer's C entry points, found with dlsym.
struct Library
{
    void* handle{nullptr};
    void* (*createBuilder)(void* logger, int32_t version){nullptr};
    void* (*createRuntime)(void* logger, int32_t version){nullptr};
    IPluginRegistry* (*registry)(){nullptr};
};

Library& library()
{
    static Library l;
    return l;
}

template <typename T>
struct Destroy
{
    void operator()(T* p) const
    {
        delete p;
    }
};
template <typename T>
using Owned = std::unique_ptr<T, Destroy<T>>;

// A built engine and what enqueueV3 needs.
struct Engine
{
    Owned<IRuntime> runtime;
    Owned<ICudaEngine> engine;
    Owned<IExecutionContext> context;
};

} // namespace

// Loads libnvinfer (`libnvinfer`, a name or path) and this crate's plugin
// library into its registry. 0 on success; otherwise the report says why.
extern "C" int tln_builtin_open(char const* libnvinfer, char const* pluginLib, char* report, size_t reportLen)
{
    Library& lib = library();
    if (lib.handle == nullptr)
    {
        lib.handle = dlopen(libnvinfer, RTLD_NOW | RTLD_GLOBAL);
        if (lib.handle == nullptr)
        {
            say(report, reportLen, "dlopen(%s): %s", libnvinfer, dlerror());
            return 1;
        }
        lib.createBuilder = reinterpret_cast<void* (*) (void*, int32_t)>(dlsym(lib.handle, "createInferBuilder_INTERNAL"));
        lib.createRuntime = reinterpret_cast<void* (*) (void*, int32_t)>(dlsym(lib.handle, "createInferRuntime_INTERNAL"));
        lib.registry = reinterpret_cast<IPluginRegistry* (*) ()>(dlsym(lib.handle, "getPluginRegistry"));
        if (lib.createBuilder == nullptr || lib.createRuntime == nullptr || lib.registry == nullptr)
        {
            say(report, reportLen, "%s has no builder (createInferBuilder_INTERNAL): a lean or dispatch runtime?", libnvinfer);
            dlclose(lib.handle);
            lib = Library{};
            return 1;
        }
        if (lib.registry()->loadLibrary(pluginLib) == nullptr)
        {
            say(report, reportLen, "TensorRT's registry could not load %s: %s", pluginLib, logger().last().c_str());
            return 1;
        }
    }
    return 0;
}

// Builds a one-layer engine normalizing the last axis of a rows x cols tensor of
// type `dtype` (TensorRT DataType code) with constant scale and bias of the same
// type, epsilon 1e-5: kind 0 is INormalizationLayer, kind 1 FP32LayerNorm
// (plugin version "2", output in X's type). Its I/O tensors "x" and "y" are
// bound to the given device buffers. Null on failure (the report says why).
extern "C" void* tln_builtin_engine(int32_t kind, int32_t dtype, int64_t rows, int64_t cols, uint64_t x, uint64_t y,
    char* report, size_t reportLen)
{
    Library& lib = library();
    if (lib.handle == nullptr)
    {
        say(report, reportLen, "tln_builtin_open first");
        return nullptr;
    }
    auto const type = static_cast<DataType>(dtype);
    size_t const elementBytes = type == DataType::kFLOAT ? 4 : 2;
    auto fail = [&](char const* what) -> void* {
        say(report, reportLen, "%s failed: %s", what, logger().last().c_str());
        return nullptr;
    };

    Owned<IBuilder> builder(static_cast<IBuilder*>(lib.createBuilder(&logger(), NV_TENSORRT_VERSION)));
    if (!builder)
    {
        return fail("createInferBuilder");
    }
#if NV_TENSORRT_MAJOR >= 11
    NetworkDefinitionCreationFlags const flags = 0; // strongly typed is the only mode
#else
    auto const flags = 1U << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);
#endif
    Owned<INetworkDefinition> network(builder->createNetworkV2(flags));
    if (!network)
    {
        return fail("createNetworkV2");
    }
    ITensor* input = network->addInput("x", type, Dims2{rows, cols});
    // Scale 1 and bias 0 in X's type (bit patterns: FP32 0x3f800000, FP16 0x3c00, BF16 0x3f80).
    std::vector<uint8_t> scaleBytes(static_cast<size_t>(cols) * elementBytes, 0);
    std::vector<uint8_t> biasBytes(static_cast<size_t>(cols) * elementBytes, 0);
    for (int64_t i = 0; i < cols; ++i)
    {
        uint8_t* s = scaleBytes.data() + i * elementBytes;
        if (type == DataType::kFLOAT)
        {
            float const one = 1.F;
            std::memcpy(s, &one, 4);
        }
        else
        {
            uint16_t const one = type == DataType::kHALF ? 0x3c00 : 0x3f80;
            std::memcpy(s, &one, 2);
        }
    }
    ITensor* scale = network->addConstant(Dims2{1, cols}, Weights{type, scaleBytes.data(), cols})->getOutput(0);
    ITensor* bias = network->addConstant(Dims2{1, cols}, Weights{type, biasBytes.data(), cols})->getOutput(0);

    std::unique_ptr<IPluginV3> plugin; // must outlive the build
    ITensor* output = nullptr;
    if (kind == 0)
    {
#if NV_TENSORRT_MAJOR > 10 || NV_TENSORRT_MINOR >= 15
        INormalizationLayer* layer = network->addNormalizationV2(*input, *scale, *bias, 1U << 1);
#else
        INormalizationLayer* layer = network->addNormalization(*input, *scale, *bias, 1U << 1);
#endif
        if (layer == nullptr)
        {
            return fail("addNormalization");
        }
        layer->setEpsilon(1e-5F);
        output = layer->getOutput(0);
    }
    else
    {
        auto* creator = static_cast<IPluginCreatorV3One*>(lib.registry()->getCreator("FP32LayerNorm", "2", ""));
        if (creator == nullptr)
        {
            return fail("getCreator(FP32LayerNorm, 2)");
        }
        float epsilon = 1e-5F;
        int32_t axis = -1;
        int32_t outputType = 0;
        PluginField fields[3] = {PluginField("epsilon", &epsilon, PluginFieldType::kFLOAT32, 1),
            PluginField("axis", &axis, PluginFieldType::kINT32, 1),
            PluginField("output_type", &outputType, PluginFieldType::kINT32, 1)};
        PluginFieldCollection fc{3, fields};
        plugin.reset(creator->createPlugin("ln", &fc, TensorRTPhase::kBUILD));
        if (!plugin)
        {
            return fail("createPlugin");
        }
        ITensor* inputs[3] = {input, scale, bias};
        IPluginV3Layer* layer = network->addPluginV3(inputs, 3, nullptr, 0, *plugin);
        if (layer == nullptr)
        {
            return fail("addPluginV3");
        }
        output = layer->getOutput(0);
    }
    output->setName("y");
    network->markOutput(*output);

    Owned<IBuilderConfig> config(builder->createBuilderConfig());
    Owned<IHostMemory> plan(config ? builder->buildSerializedNetwork(*network, *config) : nullptr);
    if (!plan)
    {
        return fail("buildSerializedNetwork");
    }
    auto e = std::make_unique<Engine>();
    e->runtime.reset(static_cast<IRuntime*>(lib.createRuntime(&logger(), NV_TENSORRT_VERSION)));
    e->engine.reset(e->runtime ? e->runtime->deserializeCudaEngine(plan->data(), plan->size()) : nullptr);
    e->context.reset(e->engine ? e->engine->createExecutionContext() : nullptr);
    if (!e->context)
    {
        return fail("deserializeCudaEngine / createExecutionContext");
    }
    if (!e->context->setTensorAddress("x", reinterpret_cast<void*>(x))
        || !e->context->setTensorAddress("y", reinterpret_cast<void*>(y)))
    {
        return fail("setTensorAddress");
    }
    return e.release();
}

// One enqueueV3 of an engine from tln_builtin_engine on `stream`: 0 on success.
extern "C" int tln_builtin_enqueue(void* engine, uint64_t stream)
{
    auto* e = static_cast<Engine*>(engine);
    return e != nullptr && e->context->enqueueV3(reinterpret_cast<cudaStream_t>(stream)) ? 0 : 1;
}

extern "C" void tln_builtin_destroy(void* engine)
{
    delete static_cast<Engine*>(engine);
}

#else // TensorRT 8: no IPluginV3, no strongly typed networks

extern "C" int tln_builtin_open(char const*, char const*, char* report, size_t reportLen)
{
    if (report != nullptr && reportLen > 0)
    {
        std::snprintf(report, reportLen, "the builtin comparison is built for TensorRT >= 10 (these headers: %d)",
            NV_TENSORRT_MAJOR);
    }
    return 1;
}
extern "C" void* tln_builtin_engine(int32_t, int32_t, int64_t, int64_t, uint64_t, uint64_t, char*, size_t)
{
    return nullptr;
}
extern "C" int tln_builtin_enqueue(void*, uint64_t)
{
    return 1;
}
extern "C" void tln_builtin_destroy(void*) {}

#endif

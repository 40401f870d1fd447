/*
 * trt-layernorm: the FP32LayerNorm, FP32RMSNorm and FP32SkipLayerNorm
 * TensorRT plugins (FP32 statistics, FP32/FP16/BF16 I/O).
 *
 * Builder applications that link or dlopen libtrt_layernorm.so call
 * initTrtLayerNormPlugins once, after TensorRT is loaded, to register the
 * creators (names "FP32LayerNorm", "FP32RMSNorm" and "FP32SkipLayerNorm",
 * each with version "1" =
 * IPluginV2DynamicExt and version "2" = IPluginV3 on TensorRT >= 10) in
 * getPluginRegistry():
 *
 *     #include <trt_layernorm.h>
 *     initTrtLayerNormPlugins(&logger, "");   // logger: your nvinfer1::ILogger
 *
 * Loading the library into a process that already has TensorRT registers the
 * creators too (namespace ""), and IPluginRegistry::loadLibrary works as well
 * (the library exports getPluginCreators, getCreators and setLoggerFinder).
 */
#ifndef TRT_LAYERNORM_H
#define TRT_LAYERNORM_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Registers the FP32LayerNorm, FP32RMSNorm and FP32SkipLayerNorm creators under pluginNamespace
 * ("" or NULL for the default) in the TensorRT plugin registry of this process.
 * logger: an nvinfer1::ILogger* that receives the plugin's messages, or NULL
 * to use TensorRT's own. Returns true when all creators are registered
 * (also when they already were); false, with a logged reason, otherwise.
 */
bool initTrtLayerNormPlugins(void* logger, char const* pluginNamespace);

#ifdef __cplusplus
}
#endif

#endif /* TRT_LAYERNORM_H */

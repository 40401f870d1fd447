// What the cxx bridge (src/plugin/bridge.rs) needs from C++: the logger.
#pragma once

#include "rust/cxx.h"
#include <cstdint>

namespace tln
{
// Logs `message` (Rust prefixes it with the plugin's name) through the TensorRT
// logger this library was given; errors go to stderr where it has none.
void log_message(int32_t severity, rust::Str message) noexcept;
} // namespace tln

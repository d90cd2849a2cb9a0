// The wall clock, for what people and other machines read: timestamps in
// JSON, logs and schedules. Deadlines use std::chrono::steady_clock instead.
#pragma once

namespace corefork {

// Now as Unix seconds, with the fraction (system_clock).
double UnixSeconds();

}  // namespace corefork

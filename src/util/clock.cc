#include "util/clock.h"

#include <chrono>

namespace corefork {

double UnixSeconds() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace corefork

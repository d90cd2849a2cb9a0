#include "loop/line_splitter.h"

namespace corefork {

void LineSplitter::Reset() {
  partial_.clear();
  partial_.shrink_to_fit();
  dropping_ = false;
}

}  // namespace corefork

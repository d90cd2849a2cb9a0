// Gives back the memory of shared libraries corefork loads but no longer
// touches once it runs: yaml-cpp (used only to read the config) and the TLS
// and compression libraries Debian's libcpp-httplib pulls in (the admin port
// serves plain HTTP). Their clean file-backed pages are dropped from RSS with
// MADV_PAGEOUT; a page that is touched again is simply read back in.
// Call from main once start-up is done; best effort, never fails.
#pragma once

#include <cstddef>

namespace corefork {

// Returns the bytes of mappings advised (0 on kernels without MADV_PAGEOUT).
size_t ReleaseStartupOnlyLibraries();

}  // namespace corefork

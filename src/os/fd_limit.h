// corefork's own file-descriptor limit. The admin server holds thousands of
// idle or slow connections without a thread each, so corefork raises its
// soft RLIMIT_NOFILE to the hard limit at start; the children it spawns get
// the limit corefork started with back (select()-based apps break above
// FD_SETSIZE), as systemd and Go do. Call RaiseFdLimit once from main before
// any thread starts; the rest is read-only afterwards.
#pragma once

#include <sys/resource.h>

namespace corefork {

// Raises the soft limit to the hard one; remembers the original. Returns
// the new soft limit (the old one when raising failed or was not needed).
rlim_t RaiseFdLimit();

// The soft limit corefork started with, for children; RLIM_INFINITY when
// RaiseFdLimit changed nothing (children then need nothing restored).
rlim_t OriginalFdLimit();

}  // namespace corefork

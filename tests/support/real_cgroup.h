// RealCgroupTest: a CoreforkTest that gets a fresh cgroup of its own under a
// cgroup v1 controller mount (/sys/fs/cgroup/cpu, /sys/fs/cgroup/memory: root
// and a writable mount; skipped with the reason otherwise) and empties and
// removes it afterwards. corefork runs in it through InCgroupArgv.
#pragma once

#include <string>
#include <vector>

#include "support/harness.h"

namespace corefork::harness {

class RealCgroupTest : public CoreforkTest {
 protected:
  // From the subclass's SetUp: makes `mount`/`prefix`<pid>-<n>, or skips the
  // test (check IsSkipped() after it) when `mount` is no cgroup v1 mount
  // with `control_file` or the directory cannot be made.
  void MakeCgroup(const std::string& mount, const std::string& control_file,
                  const std::string& prefix);
  // Kills whatever is left in the cgroup and removes it.
  void TearDown() override;

  const std::string& cgroup() const { return cgroup_; }
  // The argv that runs corefork with `args` after moving itself into the
  // cgroup.
  std::vector<std::string> InCgroupArgv(
      const std::vector<std::string>& args) const;

 private:
  std::string cgroup_;
};

}  // namespace corefork::harness

#include "support/real_cgroup.h"

#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "support/proc.h"
#include "support/util.h"

namespace corefork::harness {

void RealCgroupTest::MakeCgroup(const std::string& mount,
                                const std::string& control_file,
                                const std::string& prefix) {
  struct statfs fs;
  if (statfs(mount.c_str(), &fs) != 0 || fs.f_type != CGROUP_SUPER_MAGIC ||
      !FileExists(mount + "/" + control_file)) {
    GTEST_SKIP() << mount << " is not a cgroup v1 mount with " << control_file;
  }
  static int counter = 0;
  const std::string path = mount + "/" + prefix + std::to_string(getpid()) +
                           "-" + std::to_string(counter++);
  if (mkdir(path.c_str(), 0755) != 0) {
    GTEST_SKIP() << "cannot create a cgroup under " << mount << ": "
                 << std::strerror(errno);
  }
  cgroup_ = path;
}

void RealCgroupTest::TearDown() {
  CoreforkTest::TearDown();  // every process it started is gone after this
  if (cgroup_.empty()) return;
  const bool removed = PollUntil(
      [&] {
        std::istringstream procs(ReadFile(cgroup_ + "/cgroup.procs"));
        pid_t pid;
        while (procs >> pid) kill(pid, SIGKILL);
        ReapOrphans();
        return rmdir(cgroup_.c_str()) == 0 || errno == ENOENT;
      },
      Millis(3000));
  EXPECT_TRUE(removed) << "rmdir " << cgroup_ << ": " << std::strerror(errno);
}

std::vector<std::string> RealCgroupTest::InCgroupArgv(
    const std::vector<std::string>& args) const {
  std::vector<std::string> argv{
      "/bin/sh", "-c",
      "echo $$ > " + cgroup_ + "/cgroup.procs && exec \"$0\" \"$@\"",
      COREFORK_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace corefork::harness

// InspectExecutable and CanPreload, on real files: this machine's binaries,
// a static test binary, scripts and things that cannot be run.
#include "os/executable.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "os/elf_for_tests.h"

namespace corefork {
namespace {

class ExecutableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/executable_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    chmod(path.c_str(), 0755);
    return path;
  }
  // A copy of /bin/sh whose PT_INTERP names `interp` (no longer than the
  // original's).
  std::string WithInterpreter(const std::string& name,
                              const std::string& interp) {
    std::optional<std::string> bytes =
        corefork::WithInterpreter("/bin/sh", interp);
    if (!bytes) {
      ADD_FAILURE() << interp << ": does not fit /bin/sh's PT_INTERP";
      return "";
    }
    return Write(name, *bytes);
  }
  std::string dir_;
};

TEST_F(ExecutableTest, DynamicElfHasAnInterpreter) {
  Result<ExecutableInfo> sh = InspectExecutable("/bin/sh");
  ASSERT_TRUE(sh.ok()) << sh.status().message();
  EXPECT_EQ(sh->kind, ExecutableInfo::Kind::kElf);
  EXPECT_TRUE(sh->dynamic());
  EXPECT_NE(sh->interpreter.find("ld-linux"), std::string::npos)
      << sh->interpreter;
  EXPECT_FALSE(sh->go);
  std::string why;
  EXPECT_TRUE(CanPreload("/bin/sh", "/usr/bin:/bin", &why)) << why;
}

TEST_F(ExecutableTest, StaticElfCannotBePreloaded) {
  // Debian's busybox-static when present; else build one with the compiler.
  std::string path = dir_ + "/static";
  std::string src = Write("s.c", "int main(void) { return 0; }\n");
  std::string cmd = "cc -static -o " + path + " " + src + " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "no static libc here";
  Result<ExecutableInfo> info = InspectExecutable(path);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->kind, ExecutableInfo::Kind::kElf);
  EXPECT_FALSE(info->dynamic());
  std::string why;
  EXPECT_FALSE(CanPreload(path, "/usr/bin:/bin", &why));
  EXPECT_EQ(why, "statically linked");
}

TEST_F(ExecutableTest, ScriptsAreFollowedToTheirInterpreter) {
  std::string sh = Write("a.sh", "#!/bin/sh -e\necho hi\n");
  Result<ExecutableInfo> info = InspectExecutable(sh);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->kind, ExecutableInfo::Kind::kScript);
  EXPECT_EQ(info->script_program, "/bin/sh");
  EXPECT_EQ(info->script_argument, "-e");
  std::string why;
  EXPECT_TRUE(CanPreload(sh, "/usr/bin:/bin", &why)) << why;
  // `#!/usr/bin/env NAME` is judged by NAME, found through PATH.
  std::string env_script = Write("b", "#!/usr/bin/env sh\n");
  EXPECT_TRUE(CanPreload(env_script, "/usr/bin:/bin", &why)) << why;
  // A loop of scripts ends.
  Write("loop", "#!" + dir_ + "/loop\n");
  EXPECT_FALSE(CanPreload(dir_ + "/loop", "/usr/bin:/bin", &why));
}

TEST_F(ExecutableTest, TheInterpreterPicksTheShimsLibc) {
  std::string why;
  EXPECT_EQ(PreloadTarget("/bin/sh", "/usr/bin:/bin", &why),
            PreloadLibc::kGlibc);
  // Alpine's loader. Any other loader (here one at an unusual path, like
  // the bundle's /opt/corefork/lib/ld-linux-x86-64.so.2) means glibc.
  std::string musl = WithInterpreter("musl", "/lib/ld-musl-x86_64.so.1");
  Result<ExecutableInfo> info = InspectExecutable(musl);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->interpreter, "/lib/ld-musl-x86_64.so.1");
  EXPECT_TRUE(info->musl());
  EXPECT_EQ(PreloadTarget(musl, "", &why), PreloadLibc::kMusl);
  EXPECT_FALSE(CanPreload(musl, "", &why));
  EXPECT_NE(why.find("musl"), std::string::npos) << why;
  std::string bundled = WithInterpreter("bundled", "/cf/lib/ld-linux.so.2");
  EXPECT_EQ(PreloadTarget(bundled, "", &why), PreloadLibc::kGlibc);
  // Through #! and `#!/usr/bin/env NAME`, as on Alpine's #!/bin/sh.
  EXPECT_EQ(PreloadTarget(Write("a.sh", "#!" + musl + " -e\n"), "", &why),
            PreloadLibc::kMusl);
  EXPECT_EQ(PreloadTarget(Write("b", "#!/usr/bin/env musl\n"), dir_, &why),
            PreloadLibc::kMusl);
  // Nothing to preload into: no loader at all.
  EXPECT_EQ(PreloadTarget(dir_ + "/nope", "", &why), PreloadLibc::kNone);
  EXPECT_NE(why.find("No such file"), std::string::npos) << why;
}

TEST_F(ExecutableTest, WhatTheKernelCannotRunIsRefused) {
  struct Case {
    const char* name;
    std::string path;
    const char* error;
  };
  mkfifo((dir_ + "/fifo").c_str(), 0755);
  const Case cases[] = {
      {"directory", dir_, "is a directory"},
      {"text file", Write("t.txt", "hello\n"),
       "not an ELF binary or a script starting with #!"},
      {"empty file", Write("empty", ""),
       "not an ELF binary or a script starting with #!"},
      {"truncated ELF",
       Write("elf",
             "\x7f"
             "ELF\x02"),
       "ELF"},
      {"fifo (never blocks)", dir_ + "/fifo", "not a regular file"},
      {"missing", dir_ + "/nope", "No such file"},
  };
  for (const Case& c : cases) {
    Result<ExecutableInfo> info = InspectExecutable(c.path);
    ASSERT_FALSE(info.ok()) << c.name;
    EXPECT_NE(info.status().message().find(c.error), std::string::npos)
        << c.name << ": " << info.status().message();
  }
}

}  // namespace
}  // namespace corefork

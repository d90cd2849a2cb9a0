#include "support/proc.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "support/util.h"

namespace corefork::harness {

namespace {

// Pids owned by live Process objects. Test-support global, used only from
// the single test thread.
std::recursive_mutex& OwnedMutex() {
  static std::recursive_mutex mu;
  return mu;
}

std::set<pid_t>& OwnedPids() {
  static std::set<pid_t> pids;
  return pids;
}

bool IsNumber(const char* s) {
  if (*s == '\0') return false;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return false;
  }
  return true;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* e = readdir(dir)) {
    if (IsNumber(e->d_name)) pids.push_back(std::atoi(e->d_name));
  }
  closedir(dir);
  return pids;
}

// Fields of /proc/PID/stat after the "(comm)" part: [0] = state, [1] = ppid.
std::vector<std::string> StatFields(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  std::vector<std::string> fields;
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream in(stat.substr(close + 1));
  std::string f;
  while (in >> f) fields.push_back(f);
  return fields;
}

}  // namespace

void SetChildSubreaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    ADD_FAILURE() << "prctl(PR_SET_CHILD_SUBREAPER): " << std::strerror(errno);
  }
}

std::unique_lock<std::recursive_mutex> HoldOwnedPids() {
  return std::unique_lock<std::recursive_mutex>(OwnedMutex());
}

void MarkOwned(pid_t pid) {
  auto hold = HoldOwnedPids();
  OwnedPids().insert(pid);
}
void UnmarkOwned(pid_t pid) {
  auto hold = HoldOwnedPids();
  OwnedPids().erase(pid);
}
bool IsOwned(pid_t pid) {
  auto hold = HoldOwnedPids();
  return OwnedPids().count(pid) != 0;
}

char ProcState(pid_t pid) {
  std::vector<std::string> f = StatFields(pid);
  return f.empty() || f[0].empty() ? '\0' : f[0][0];
}

bool ProcessGone(pid_t pid) {
  return !FileExists("/proc/" + std::to_string(pid));
}

bool GoneOrZombie(pid_t pid) {
  char s = ProcState(pid);
  return s == '\0' || s == 'Z' || s == 'X';
}

pid_t ParentPid(pid_t pid) {
  std::vector<std::string> f = StatFields(pid);
  return f.size() < 2 ? -1 : std::atoi(f[1].c_str());
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  for (pid_t pid : AllPids()) {
    if (ParentPid(pid) == parent) children.push_back(pid);
  }
  std::sort(children.begin(), children.end());
  return children;
}

std::vector<pid_t> DescendantsOf(pid_t root) {
  std::map<pid_t, pid_t> parent_of;
  for (pid_t pid : AllPids()) parent_of[pid] = ParentPid(pid);
  std::vector<pid_t> result;
  std::vector<pid_t> frontier{root};
  while (!frontier.empty()) {
    pid_t p = frontier.back();
    frontier.pop_back();
    for (const auto& [child, parent] : parent_of) {
      if (parent == p && child != root) {
        result.push_back(child);
        frontier.push_back(child);
      }
    }
  }
  return result;
}

pid_t InnermostPid(pid_t pid) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("NSpid:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    pid_t last = -1, v;
    while (fields >> v) last = v;
    return last;
  }
  return -1;
}

bool SignalPending(pid_t pid, int sig) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  const unsigned long long bit = 1ULL << (sig - 1);
  while (std::getline(in, line)) {
    if (line.rfind("ShdPnd:", 0) == 0 || line.rfind("SigPnd:", 0) == 0) {
      if (std::strtoull(line.c_str() + 7, nullptr, 16) & bit) return true;
    }
  }
  return false;
}

std::vector<int> OpenFds(pid_t pid) {
  std::vector<int> fds;
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return fds;
  while (dirent* e = readdir(dir)) {
    if (IsNumber(e->d_name)) fds.push_back(std::atoi(e->d_name));
  }
  closedir(dir);
  std::sort(fds.begin(), fds.end());
  return fds;
}

void ReapOrphans() {
  auto hold = HoldOwnedPids();
  for (pid_t child : ChildrenOf(getpid())) {
    if (IsOwned(child)) continue;
    int status;
    waitpid(child, &status, WNOHANG);
  }
}

namespace {

struct TcpEntry {
  int local_port;
  int state;
  unsigned long inode;
};

std::vector<TcpEntry> TcpTable() {
  std::vector<TcpEntry> entries;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream in(ReadFile(file));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string sl, local, remote, st, queues, tr, retr, uid, timeout;
      unsigned long inode = 0;
      if (!(f >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >>
            timeout >> inode)) {
        continue;
      }
      size_t colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      entries.push_back(
          {static_cast<int>(std::stoul(local.substr(colon + 1), nullptr, 16)),
           static_cast<int>(std::stoul(st, nullptr, 16)), inode});
    }
  }
  return entries;
}

}  // namespace

int AcceptedConnections(int port) {
  int n = 0;
  for (const TcpEntry& e : TcpTable()) {
    if (e.local_port == port && e.state == 0x01 && e.inode != 0) ++n;
  }
  return n;
}

std::vector<unsigned long> ListeningInodes(int port) {
  std::vector<unsigned long> inodes;
  for (const TcpEntry& e : TcpTable()) {
    if (e.local_port == port && e.state == 0x0A) inodes.push_back(e.inode);
  }
  return inodes;
}

bool AllGone(const std::vector<pid_t>& pids) {
  for (pid_t p : pids) {
    if (!ProcessGone(p)) return false;
  }
  return true;
}

bool AllGoneOrZombie(const std::vector<pid_t>& pids) {
  ReapOrphans();  // a reparented orphan is our zombie until reaped
  for (pid_t p : pids) {
    if (!GoneOrZombie(p)) return false;
  }
  return true;
}

std::string States(const std::vector<pid_t>& pids) {
  std::string s;
  for (pid_t p : pids) {
    char st = ProcState(p);
    s += std::to_string(p) + ":" + (st ? std::string(1, st) : "gone") + " ";
  }
  return s;
}

}  // namespace corefork::harness

// What the kernel says about processes and sockets, read from /proc, plus the
// test process' own duties as a child subreaper (adopting and reaping the
// orphans of what it starts). For the single test thread.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>
#include <vector>

namespace corefork::harness {

// Makes the test process a child subreaper so orphans of the processes it
// starts are re-parented to it (and reaped by ReapOrphans / ~Process) instead
// of to the machine's init.
void SetChildSubreaper();

// /proc views. ProcState: the state letter of /proc/PID/stat ('R', 'S', 'Z',
// ...) or '\0' when there is no /proc/PID. ProcessGone: no /proc/PID at all
// (a zombie is NOT gone). GoneOrZombie: either.
char ProcState(pid_t pid);
bool ProcessGone(pid_t pid);
bool GoneOrZombie(pid_t pid);
// Every pid of `pids` ProcessGone / GoneOrZombie (reaping orphans first).
bool AllGone(const std::vector<pid_t>& pids);
bool AllGoneOrZombie(const std::vector<pid_t>& pids);
// "PID:STATE ..." (STATE a ProcState letter, or "gone"), for failure messages.
std::string States(const std::vector<pid_t>& pids);
pid_t ParentPid(pid_t pid);  // -1 when gone
std::vector<pid_t> ChildrenOf(pid_t pid);
std::vector<pid_t> DescendantsOf(pid_t pid);  // children, grandchildren, ...
// The pid as the innermost pid namespace sees it (last NSpid field), or -1.
pid_t InnermostPid(pid_t pid);
// True while `sig` is pending for `pid` (ShdPnd or SigPnd of
// /proc/PID/status): sent but not yet taken, e.g. by a signalfd read. Two
// standard signals sent while the first is still pending merge into one.
bool SignalPending(pid_t pid, int sig);
// Names in /proc/PID/fd, sorted numerically; empty when unreadable.
std::vector<int> OpenFds(pid_t pid);

// Reaps (waitpid) every child of the test process that no live Process owns:
// re-parented orphans. Never blocks.
void ReapOrphans();

// Number of server-side TCP connections on local `port` that some process has
// accept()ed (ESTABLISHED with an inode in /proc/net/tcp{,6}); connections
// still queued in a listen backlog have no inode and are not counted.
int AcceptedConnections(int port);
// Inodes of the TCP sockets LISTENing on local `port`.
std::vector<unsigned long> ListeningInodes(int port);

// Pids a live Process owns: ReapOrphans leaves them to the owner's WaitExit.
// Thread-safe (tests start and wait for processes from several threads).
void MarkOwned(pid_t pid);
void UnmarkOwned(pid_t pid);
bool IsOwned(pid_t pid);
// While held, the owned set does not change under the holder: a Process
// holds it from fork() to MarkOwned, an orphan sweep while it kills and
// reaps unowned children, so a sweep in one thread never takes another
// thread's fresh child for an orphan. Recursive: the calls above may be
// made while holding it.
std::unique_lock<std::recursive_mutex> HoldOwnedPids();

}  // namespace corefork::harness

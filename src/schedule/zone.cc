#include "schedule/zone.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

namespace corefork {
namespace {

// Real TZif files are a few KiB; anything this big is not one.
constexpr off_t kMaxFileSize = 1 << 20;

cctz::time_point<cctz::seconds> Instant(int64_t unix_seconds) {
  return cctz::time_point<cctz::seconds>(cctz::seconds(unix_seconds));
}

int64_t UnixSeconds(cctz::time_point<cctz::seconds> instant) {
  return instant.time_since_epoch().count();
}

}  // namespace

TimeZone::TimeZone() = default;

std::string TimeZone::DefaultZoneinfoDir() {
  const char* dir = std::getenv("TZDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/usr/share/zoneinfo";
}

Result<TimeZone> TimeZone::Load(std::string_view name) {
  return Load(name, DefaultZoneinfoDir());
}

Result<TimeZone> TimeZone::Load(std::string_view name,
                                const std::string& zoneinfo_dir) {
  if (name.empty() || name == "UTC" || name == "Etc/UTC") {
    TimeZone utc;
    if (!name.empty()) utc.name_ = std::string(name);
    return utc;
  }
  const std::string quoted = "\"" + std::string(name) + "\"";
  if (name.front() == '/' || name.find("..") != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(
        "timezone " + quoted +
        ": expected a zone name like Europe/Berlin, without "
        "\"..\" or a leading \"/\"");
  }
  std::string path = zoneinfo_dir;
  if (!path.empty() && path.back() != '/') path += '/';
  path += name;
  // cctz would look a relative path up under $TZDIR: make it absolute.
  if (path.front() != '/') {
    std::error_code error;
    const std::filesystem::path absolute =
        std::filesystem::absolute(path, error);
    if (error)
      return PosixError(path, error.value()).Wrap("unknown timezone " + quoted);
    path = absolute.string();
  }
  // cctz fopen()s the file and reports only success: these checks give the
  // reason, and keep it from blocking on a FIFO planted in the directory.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return PosixError(path).Wrap("unknown timezone " + quoted);
  }
  if (S_ISDIR(st.st_mode)) {
    return PosixError(path, EISDIR).Wrap("unknown timezone " + quoted);
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("timezone " + quoted + ": " + path +
                                   ": not a file");
  }
  if (st.st_size > kMaxFileSize) {
    return Status::InvalidArgument("timezone " + quoted + ": " + path +
                                   ": larger than 1 MiB, not a TZif file");
  }
  TimeZone tz;
  if (!cctz::load_time_zone(path, &tz.zone_)) {
    return Status::InvalidArgument(
        "timezone " + quoted + ": " + path +
        ": not a valid TZif file (leap-second right/ zones are not "
        "supported either)");
  }
  tz.name_ = std::string(name);
  return tz;
}

int64_t TimeZone::OffsetAt(int64_t unix_seconds) const {
  return zone_.lookup(Instant(unix_seconds)).offset;
}

std::optional<int64_t> TimeZone::FirstInstantAt(int64_t wall_seconds) const {
  const cctz::time_zone::civil_lookup found =
      zone_.lookup(cctz::civil_second() + wall_seconds);
  switch (found.kind) {
    case cctz::time_zone::civil_lookup::UNIQUE:
      return UnixSeconds(found.pre);
    case cctz::time_zone::civil_lookup::SKIPPED:
      return std::nullopt;
    case cctz::time_zone::civil_lookup::REPEATED:
      return std::min(UnixSeconds(found.pre), UnixSeconds(found.post));
  }
  return std::nullopt;
}

}  // namespace corefork

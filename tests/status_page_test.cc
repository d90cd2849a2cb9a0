// The admin status page (GET /) in a real headless Chromium (Debian's
// chromium package; .ci/install-deps.sh installs it): after a worker is
// SIGKILLed and a job has run, the DOM the page's own script built from
// /status must show the restart, the exit's reason and the job's last run.
// A screenshot is kept as a test artifact. Skipped only when chromium is
// not installed.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "support/admin_fixture.h"
#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

std::string FindChromium() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

// Where artifacts go: $COREFORK_TEST_ARTIFACTS, else test-artifacts/ in
// the build directory (beside the corefork binary).
std::string ArtifactDir() {
  const char* env = std::getenv("COREFORK_TEST_ARTIFACTS");
  std::string dir = env != nullptr && *env != '\0' ? env : "";
  if (dir.empty()) {
    std::string bin = COREFORK_BIN;
    dir = bin.substr(0, bin.rfind('/')) + "/test-artifacts";
  }
  mkdir(dir.c_str(), 0755);
  return dir;
}

class StatusPageTest : public JobsTest {
 protected:
  UnixHttpResponse Admin(const std::string& path) {
    return TcpHttpRequest("127.0.0.1", admin_port(), "GET", path);
  }
  std::optional<JsonValue> StatusJson() {
    UnixHttpResponse r = Admin("/status");
    if (r.status != 200) return std::nullopt;
    return ParseJson(r.body);
  }
  // Runs chromium headless on the page with `args`, bounded to 30 s: the
  // page's script runs within --virtual-time-budget (fetches of /status
  // included). Its stdout, or "" with a test failure.
  std::string Chromium(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {
        chromium_,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--user-data-dir=" + Path("chromium-profile"),
        "--virtual-time-budget=8000",
        "--window-size=1200,900"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("http://127.0.0.1:" + std::to_string(admin_port()) + "/");
    Process& browser = Spawn(argv, {{"HOME", Path("")}});
    std::optional<int> code = browser.WaitExit(milliseconds(30000));
    if (!code) {
      browser.Kill();
      ADD_FAILURE() << "chromium did not finish within 30 s: "
                    << browser.Stderr();
      return "";
    }
    EXPECT_EQ(*code, 0) << browser.Stderr();
    return browser.Stdout();
  }

  std::string chromium_ = FindChromium();
};

// The row of `table` (by id) whose attributes match `row_attrs` (a regex
// over the <tr ...> tag's attributes), as HTML; "" if none.
std::string Row(const std::string& dom, const std::string& table,
                const std::string& row_attrs) {
  size_t at = dom.find("id=\"" + table + "\"");
  if (at == std::string::npos) return "";
  size_t end = dom.find("</table>", at);
  std::string body = dom.substr(at, end - at);
  std::smatch m;
  std::regex row("<tr " + row_attrs + "[^>]*>(.*?)</tr>");
  if (!std::regex_search(body, m, row)) return "";
  return m[0].str();
}

TEST_F(StatusPageTest, ShowsAKilledWorkerAndAJobRunInARealBrowser) {
  if (chromium_.empty()) {
    GTEST_SKIP() << "chromium is not installed (apt-get install -y chromium; "
                    ".ci/install-deps.sh does)";
  }
  Process& cf = StartJobs(
      "jobs:\n"
      "  report:\n"
      "    command: " +
          ShCommand("echo report done") +
          "\n"
          "    on_demand: true\n"
          "  calc:\n"
          "    command: [/usr/bin/python3, " +
          YamlQuote(std::string(COREFORK_SOURCE_DIR) +
                    "/examples/pool/pool_worker.py") +
          "]\n"
          "    on_demand: true\n"
          "    pool: {size: 2, warm: true}\n",
      {}, {"--workers", "2"});
  ASSERT_TRUE(WaitControl(cf));

  // Both workers ready, then SIGKILL slot 0's.
  pid_t victim = -1;
  ASSERT_TRUE(PollUntil(
      [&] {
        std::optional<JsonValue> st = StatusJson();
        if (!st || (*st)["slots"].size() != 2) return false;
        for (const JsonValue& s : (*st)["slots"].Items()) {
          if (s.Str("state").value_or("") != "ready") return false;
        }
        victim = static_cast<pid_t>((*st)["slots"][0].Num("pid").value_or(-1));
        return victim > 0;
      },
      milliseconds(10000)))
      << Admin("/status").body;
  ASSERT_EQ(kill(victim, SIGKILL), 0);

  // /status: slot 0 restarted once with a new pid, the exit is listed.
  std::optional<JsonValue> st;
  ASSERT_TRUE(PollUntil(
      [&] {
        st = StatusJson();
        if (!st) return false;
        JsonValue slot0 = (*st)["slots"][0];
        return slot0.Num("restarts").value_or(0) == 1 &&
               slot0.Str("state").value_or("") == "ready" &&
               slot0.Num("pid").value_or(victim) != victim &&
               (*st)["recent_exits"].size() == 1;
      },
      milliseconds(10000)))
      << Admin("/status").body;
  JsonValue exit = (*st)["recent_exits"][0];
  EXPECT_EQ(exit.Num("pid").value_or(0), victim);
  EXPECT_EQ(exit.Str("reason").value_or(""), "killed by SIGKILL");

  // The job runs to its end.
  UnixHttpResponse run = Submit("report", "", /*wait=*/true);
  ASSERT_EQ(run.status, 200) << run.ToString();
  ASSERT_EQ(Body(run).Str("state").value_or(""), "succeeded");

  // Uptimes are about the moment /status answers (issue 13): slot 1 has
  // been up since the start, and 300 ms later it says 300 ms more.
  double before = (*StatusJson())["slots"][1].Num("uptime_seconds").value_or(0);
  PollUntil([] { return false; }, milliseconds(300));
  double after = (*StatusJson())["slots"][1].Num("uptime_seconds").value_or(0);
  EXPECT_GE(after - before, 0.29) << before << " then " << after;

  // The charts: wait for a sample of the new worker (one per 10 s).
  ASSERT_TRUE(PollUntil(
      [&] {
        std::optional<JsonValue> h = ParseJson(Admin("/status/history").body);
        if (!h || (*h)["slots"].size() == 0) return false;
        for (const JsonValue& v : (*h)["slots"][0]["rss_bytes"].Items()) {
          if (v.is_number()) return true;
        }
        return false;
      },
      milliseconds(15000)))
      << Admin("/status/history").body;

  // The page as served: self-contained and locked down.
  UnixHttpResponse page = Admin("/");
  ASSERT_EQ(page.status, 200) << page.ToString();
  EXPECT_EQ(page.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.Header("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(page.Header("Content-Security-Policy").find("default-src 'none'"),
            std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos);
  EXPECT_EQ(page.body.find("https://"), std::string::npos);

  // The DOM after the page's script has polled /status.
  const std::string dom = Chromium({"--dump-dom"});
  ASSERT_FALSE(dom.empty());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("data-polls=\"(\\d+)\"")))
      << dom;
  EXPECT_GE(std::stoi(m[1].str()), 1) << "the polling script did not run";
  EXPECT_EQ(dom.find("waiting for /status"), std::string::npos) << dom;

  const std::string row0 =
      Row(dom, "workers", "class=\"worker\" data-slot=\"0\"");
  ASSERT_FALSE(row0.empty()) << dom;
  EXPECT_NE(row0.find("<td class=\"num restarts\">1</td>"), std::string::npos)
      << row0;
  EXPECT_NE(row0.find("killed by SIGKILL"), std::string::npos) << row0;
  EXPECT_NE(row0.find(">ready<"), std::string::npos) << row0;
  EXPECT_TRUE(std::regex_search(row0, std::regex("data-points=\"[1-9]")))
      << "no chart points: " << row0;
  const std::string row1 =
      Row(dom, "workers", "class=\"worker\" data-slot=\"1\"");
  EXPECT_NE(row1.find("<td class=\"num restarts\">0</td>"), std::string::npos)
      << row1;

  const std::string exit_row = Row(dom, "exits", "class=\"exit\"");
  EXPECT_NE(exit_row.find(std::to_string(victim)), std::string::npos)
      << exit_row;
  EXPECT_NE(exit_row.find("killed by SIGKILL"), std::string::npos) << exit_row;

  const std::string job = Row(dom, "jobs", "class=\"job\" data-job=\"report\"");
  ASSERT_FALSE(job.empty()) << dom;
  EXPECT_NE(job.find(">succeeded<"), std::string::npos) << job;
  EXPECT_TRUE(std::regex_search(
      job, std::regex("class=\"last-finished\">\\d{4}-\\d{2}-\\d{2}T")))
      << job;
  EXPECT_NE(job.find("<td class=\"pool\">-</td>"), std::string::npos) << job;
  const std::string calc = Row(dom, "jobs", "class=\"job\" data-job=\"calc\"");
  EXPECT_NE(calc.find("<td class=\"pool\">2/2, 0 busy</td>"), std::string::npos)
      << calc;
  EXPECT_NE(dom.find("<dt>sizing</dt>"), std::string::npos) << dom;
  // The error banner stays off (every fetch of the page's own origin worked,
  // so the CSP let them through).
  EXPECT_TRUE(std::regex_search(
      dom, std::regex("<div id=\"banner\"( class=\"\")?></div>")))
      << dom;

  // A screenshot for people (kept; the path is printed).
  const std::string png = ArtifactDir() + "/status_page.png";
  unlink(png.c_str());
  Chromium({"--screenshot=" + png});
  struct stat sb {};
  ASSERT_EQ(stat(png.c_str(), &sb), 0) << png;
  EXPECT_GT(sb.st_size, 10 * 1024) << png;
  std::printf("status page screenshot: %s (%lld bytes)\n", png.c_str(),
              static_cast<long long>(sb.st_size));
}

}  // namespace
}  // namespace corefork::harness

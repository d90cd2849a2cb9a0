#include "admin/admin_server.h"

#include <algorithm>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "admin/admin_views.h"
#include "admin/bounded_http_server.h"
#include "admin/http_lite.h"
#include "metrics/proc_stats.h"

namespace corefork {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kPrometheusText =
    "text/plain; version=0.0.4; charset=utf-8";

double NowUnixSeconds() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<uint64_t> ResidentBytes(pid_t pid) {
  std::optional<ProcStats> stats = ReadProcStats(pid);
  if (!stats) return std::nullopt;
  return stats->resident_bytes;
}

void SetJson(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(JsonResponse(status, body).body, kJson);
}

BoundedHttpOptions ServerOptions(const AdminOptions& o) {
  BoundedHttpOptions b;
  b.read_timeout = o.read_timeout;
  b.write_timeout = o.write_timeout;
  b.keep_alive_timeout = o.keep_alive_timeout;
  b.keep_alive_max_count = o.keep_alive_max_count;
  b.max_header_bytes = o.max_header_bytes;
  b.max_body_bytes = o.max_body_bytes;
  b.pool.max_threads = static_cast<size_t>(std::max(o.max_threads, 2));
  b.pool.min_threads = static_cast<size_t>(std::max(o.min_threads, 2));
  b.pool.idle_timeout = o.idle_thread_timeout;
  return b;
}

}  // namespace

struct AdminServer::Impl {
  using Page = void (Impl::*)(httplib::Response&);

  AdminOptions options;
  const StateBoard* state;
  CommandQueue* commands;
  const Metrics* metrics;
  std::unique_ptr<BoundedHttpServer> server;
  std::thread thread;
  int port = 0;

  std::mutex ping_mu;
  // The ping in flight; every /livez waits on it until the loop answers.
  std::optional<std::shared_future<CommandReply>> ping;

  void Handle(const httplib::Request& req, httplib::Response& res);
  void Livez(httplib::Response& res);
  void Readyz(httplib::Response& res);
  void Status(httplib::Response& res);
  void MetricsText(httplib::Response& res);
  std::shared_future<CommandReply> CurrentPing();
};

void AdminServer::Impl::Handle(const httplib::Request& req,
                               httplib::Response& res) {
  static constexpr std::pair<const char*, Page> kPages[] = {
      {"/livez", &Impl::Livez},
      {"/readyz", &Impl::Readyz},
      {"/status", &Impl::Status},
      {"/metrics", &Impl::MetricsText},
  };
  res.set_header("Cache-Control", "no-store");
  auto page = std::find_if(std::begin(kPages), std::end(kPages),
                           [&](const auto& p) { return req.path == p.first; });
  if (page == std::end(kPages))
    return SetJson(res, 404, R"({"error":"not found"})");
  if (req.method != "GET" && req.method != "HEAD") {
    res.set_header("Allow", "GET, HEAD");
    return SetJson(res, 405,
                   R"({"error":"method not allowed; use GET or HEAD"})");
  }
  (this->*page->second)(res);  // HEAD: httplib sends the headers only
}

std::shared_future<CommandReply> AdminServer::Impl::CurrentPing() {
  std::lock_guard<std::mutex> lock(ping_mu);
  if (!ping ||
      ping->wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    ping = commands->Post(Command::Kind::kPing).share();
  }
  return *ping;
}

void AdminServer::Impl::Livez(httplib::Response& res) {
  std::shared_future<CommandReply> reply = CurrentPing();
  std::string reason;
  if (reply.wait_for(options.liveness_timeout) != std::future_status::ready) {
    reason = "event loop did not answer within " +
             std::to_string(options.liveness_timeout.count()) + "ms";
  } else {
    try {
      reply.get();
    } catch (const std::future_error&) {
      reason = "event loop dropped the ping";
    }
  }
  if (reason.empty()) return SetJson(res, 200, R"({"live":true})");
  SetJson(res, 503, R"({"live":false,"reason":")" + reason + "\"}");
}

void AdminServer::Impl::Readyz(httplib::Response& res) {
  Readiness readiness = CheckReadiness(*state->Current());
  SetJson(res, readiness.ready ? 200 : 503, readiness.body);
}

void AdminServer::Impl::Status(httplib::Response& res) {
  SetJson(res, 200,
          StatusJson(*state->Current(), COREFORK_VERSION, NowUnixSeconds(),
                     &ResidentBytes));
}

void AdminServer::Impl::MetricsText(httplib::Response& res) {
  if (metrics == nullptr) {
    return SetJson(res, 503, R"({"error":"metrics are not enabled"})");
  }
  std::vector<WorkerPid> pids;
  for (const WorkerView& w : state->Current()->workers) {
    if (w.pid > 0) pids.push_back({w.id, w.pid});
  }
  res.status = 200;
  res.set_content(metrics->Scrape(pids), kPrometheusText);
}

AdminServer::AdminServer(AdminOptions options, const StateBoard* state,
                         CommandQueue* commands, const Metrics* metrics)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->state = state;
  impl_->commands = commands;
  impl_->metrics = metrics;
}

AdminServer::~AdminServer() { Stop(); }

Status AdminServer::Start() {
  Impl& impl = *impl_;
  if (impl.server) return Status::Error("admin: already started");
  auto server = std::make_unique<BoundedHttpServer>(
      ServerOptions(impl.options),
      [&impl](const httplib::Request& req, httplib::Response& res) {
        impl.Handle(req, res);
      });
  Status bound = server->Bind(impl.options.host, impl.options.port);
  if (!bound.ok()) return bound.Wrap("admin");
  impl.port = server->bound_port();
  impl.server = std::move(server);
  impl.thread = std::thread([s = impl.server.get()] { s->Serve(); });
  return Status::Ok();
}

void AdminServer::Stop() {
  if (!impl_->server) return;
  impl_->server->Shutdown();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->server.reset();
}

int AdminServer::port() const { return impl_->port; }

int AdminServer::connections() const {
  return impl_->server ? impl_->server->open_connections() : 0;
}

}  // namespace corefork

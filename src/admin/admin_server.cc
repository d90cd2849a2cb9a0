#include "admin/admin_server.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "admin/admin_views.h"
#include "admin/app_scraper.h"
#include "admin/http_lite.h"
#include "admin/http_server.h"
#include "metrics/proc_stats.h"
#include "net/listener.h"
#include "util/json.h"

namespace corefork {
namespace {

using Clock = std::chrono::steady_clock;

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

// Every answer of the admin port is about now: never cached.
HttpResponse Uncached(HttpResponse res) {
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

HttpResponse Uncached(int status, const Json& body) {
  return Uncached(JsonResponse(status, JsonDump(body)));
}

HttpResponse NotLive(const std::string& reason) {
  return Uncached(503, Json{{"live", false}, {"reason", reason}});
}

// The /livez requests waiting for the one ping in flight. Shared with the
// ping's ReplyTo, which may run (on the loop thread) after the server is
// gone.
struct Liveness {
  std::mutex mu;
  bool ping_in_flight = false;
  std::vector<std::pair<Clock::time_point, Responder>> waiters;
};

}  // namespace

struct AdminServer::Impl {
  using Page = void (Impl::*)(Responder&);

  AdminOptions options;
  const StateBoard* state;
  CommandQueue* commands;
  const Metrics* metrics;
  AppScraper* app_scraper = nullptr;
  std::unique_ptr<HttpServer> server;
  int port = 0;
  std::shared_ptr<Liveness> liveness = std::make_shared<Liveness>();

  void Handle(const HttpRequest& req, Responder reply);
  void Livez(Responder& reply);
  void Readyz(Responder& reply);
  void Status(Responder& reply);
  void MetricsText(Responder& reply);
};

void AdminServer::Impl::Handle(const HttpRequest& req, Responder reply) {
  static constexpr std::pair<const char*, Page> kPages[] = {
      {"/livez", &Impl::Livez},
      {"/readyz", &Impl::Readyz},
      {"/status", &Impl::Status},
      {"/metrics", &Impl::MetricsText},
  };
  auto page = std::find_if(std::begin(kPages), std::end(kPages),
                           [&](const auto& p) { return req.path == p.first; });
  if (page == std::end(kPages)) {
    return reply.Send(Uncached(ErrorResponse(404, "not found")));
  }
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse res =
        Uncached(ErrorResponse(405, "method not allowed; use GET or HEAD"));
    res.headers.emplace_back("Allow", "GET, HEAD");
    return reply.Send(std::move(res));
  }
  (this->*page->second)(reply);  // HEAD: the server sends the headers only
}

void AdminServer::Impl::Livez(Responder& reply) {
  const auto timeout = options.liveness_timeout;
  reply.SetTimeout(timeout, NotLive("event loop did not answer within " +
                                    std::to_string(timeout.count()) + "ms"));
  const Clock::time_point now = Clock::now();
  std::vector<std::pair<Clock::time_point, Responder>> expired;
  bool post = false;
  {
    std::lock_guard<std::mutex> lock(liveness->mu);
    // While the loop is stuck the ping stays in flight and probes keep
    // coming: those already answered by their timeout go, so the list
    // stays as short as the probes of the last second.
    auto& w = liveness->waiters;
    auto keep = std::partition(w.begin(), w.end(), [&](const auto& entry) {
      return entry.first > now;
    });
    std::move(keep, w.end(), std::back_inserter(expired));
    w.erase(keep, w.end());
    w.emplace_back(now + timeout, std::move(reply));
    post = !std::exchange(liveness->ping_in_flight, true);
  }
  // `expired` (already answered by their timeouts) go quietly here.
  for (auto& entry : expired) entry.second.Send(HttpResponse{});
  if (!post) return;  // every probe shares the ping in flight
  auto command = std::make_unique<Command>();
  command->kind = Command::Kind::kPing;
  command->reply =
      ReplyTo([live = liveness](std::optional<CommandReply> answer) {
        std::vector<std::pair<Clock::time_point, Responder>> waiters;
        {
          std::lock_guard<std::mutex> lock(live->mu);
          live->ping_in_flight = false;
          waiters.swap(live->waiters);
        }
        HttpResponse res = answer ? Uncached(200, Json{{"live", true}})
                                  : NotLive("event loop dropped the ping");
        for (auto& entry : waiters) entry.second.Send(res);
      });
  commands->Send(std::move(command));
}

void AdminServer::Impl::Readyz(Responder& reply) {
  Readiness readiness = CheckReadiness(*state->Current());
  reply.Send(Uncached(
      JsonResponse(readiness.ready ? 200 : 503, std::move(readiness.body))));
}

void AdminServer::Impl::Status(Responder& reply) {
  reply.Send(Uncached(
      JsonResponse(200, StatusJson(*state->Current(), COREFORK_VERSION,
                                   NowUnixSeconds(), &ResidentBytes))));
}

void AdminServer::Impl::MetricsText(Responder& reply) {
  if (metrics == nullptr) {
    return reply.Send(Uncached(ErrorResponse(503, "metrics are not enabled")));
  }
  std::vector<WorkerPid> pids;
  for (const WorkerView& w : state->Current()->workers) {
    if (w.pid > 0) pids.push_back({w.id, w.pid});
  }
  HttpResponse res{200, metrics->Scrape(pids), {}, kPrometheusText};
  res.headers.emplace_back("Cache-Control", "no-store");
  if (app_scraper != nullptr) {
    // The scraper answers within metrics.app.timeout; should it not, the
    // scrape still gets corefork's own metrics.
    HttpResponse fallback = res;
    reply.SetTimeout(app_scraper->timeout() + std::chrono::seconds(2),
                     std::move(fallback));
    std::string own = std::move(res.body);
    return app_scraper->Scrape(std::move(own), *state->Current(),
                               std::move(reply));
  }
  reply.Send(std::move(res));
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

void AdminServer::SetAppScraper(AppScraper* scraper) {
  impl_->app_scraper = scraper;
}

Status AdminServer::Start() {
  Impl& impl = *impl_;
  if (impl.server) return Status::Error("admin: already started");
  const AdminOptions& o = impl.options;
  Result<Fd> fd =
      BindListener(o.host, o.port, o.listen_backlog, /*reuseport=*/false);
  if (!fd.ok()) return fd.status().Wrap("admin");
  Result<int> port = LocalPort(fd->get());
  if (!port.ok()) return port.status().Wrap("admin");
  HttpServerOptions h;
  h.name = "admin";
  h.max_header_bytes = o.max_header_bytes;
  h.max_body_bytes = o.max_body_bytes;
  h.header_timeout = o.read_timeout;
  h.body_timeout = o.read_timeout;
  h.idle_timeout = o.keep_alive_timeout;
  h.write_timeout = o.write_timeout;
  h.answer_timeout = o.liveness_timeout + std::chrono::milliseconds(1'000);
  h.keep_alive = true;
  h.max_requests_per_connection = std::max<size_t>(o.keep_alive_max_count, 1);
  h.max_connections = std::max<size_t>(o.max_connections, 1);
  h.max_waiting = h.max_connections;
  h.max_long_waits = 0;
  h.listen_backlog = o.listen_backlog;
  h.tcp_nodelay = true;
  auto server = std::make_unique<HttpServer>(
      h, [&impl](HttpRequest& req, Responder reply) {
        impl.Handle(req, std::move(reply));
      });
  Status s = server->Start(std::move(fd).value());
  if (!s.ok()) return s.Wrap("admin");
  impl.port = *port;
  impl.server = std::move(server);
  return Status::Ok();
}

void AdminServer::Stop() {
  if (!impl_->server) return;
  impl_->server->Stop();
  impl_->server.reset();
}

int AdminServer::port() const { return impl_->port; }

int AdminServer::connections() const {
  return impl_->server ? impl_->server->connections() : 0;
}

}  // namespace corefork

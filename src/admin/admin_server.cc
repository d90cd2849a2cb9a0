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
#include "admin/resource_sampler.h"
#include "admin/sample_ring.h"
#include "admin/status_page.h"
#include "metrics/proc_stats.h"
#include "net/listener.h"
#include "util/json.h"

namespace corefork {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kPrometheusText =
    "text/plain; version=0.0.4; charset=utf-8";

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
  using Handler = void (Impl::*)(Responder&);

  AdminOptions options;
  const StateBoard* state;
  CommandQueue* commands;
  const Metrics* metrics;
  AppScraper* app_scraper = nullptr;
  std::unique_ptr<HttpServer> server;
  int port = 0;
  std::shared_ptr<Liveness> liveness = std::make_shared<Liveness>();
  std::unique_ptr<SampleRing> samples;  // null without history
  std::unique_ptr<ResourceSampler> sampler;

  void Handle(const HttpRequest& req, Responder reply);
  void Livez(Responder& reply);
  void Readyz(Responder& reply);
  void Status(Responder& reply);
  void History(Responder& reply);
  void Page(Responder& reply);
  void MetricsText(Responder& reply);
};

void AdminServer::Impl::Handle(const HttpRequest& req, Responder reply) {
  static constexpr std::pair<const char*, Handler> kPages[] = {
      {"/", &Impl::Page},
      {"/livez", &Impl::Livez},
      {"/readyz", &Impl::Readyz},
      {"/status", &Impl::Status},
      {"/status/history", &Impl::History},
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
  CpuReader cpu;
  if (samples) {
    cpu = [ring = samples.get()](int slot, pid_t pid) -> std::optional<double> {
      std::optional<SampleRing::Sample> last = ring->Latest(slot);
      if (!last || last->pid != pid) return std::nullopt;
      return last->cpu_percent;
    };
  }
  std::string body = StatusJson(*state->Current(), COREFORK_VERSION,
                                AnswerTime::Now(), &ResidentBytes, cpu);
  auto without_jobs = [](const std::string& status) {
    return Uncached(JsonResponse(200, StatusWithJobs(status, std::nullopt)));
  };
  if (commands == nullptr) return reply.Send(without_jobs(body));
  // The job list lives in the loop: ask it, as GET /jobs on the control
  // socket does. A stuck loop costs /status its jobs, not its answer.
  reply.SetTimeout(options.liveness_timeout, without_jobs(body));
  auto command = std::make_unique<Command>();
  command->kind = Command::Kind::kListJobs;
  command->reply = ReplyTo([status = std::move(body),
                            responder = std::make_shared<Responder>(std::move(
                                reply))](std::optional<CommandReply> answer) {
    std::optional<std::string> jobs;
    if (answer && answer->http_status == 200) jobs = answer->body;
    responder->Send(Uncached(JsonResponse(200, StatusWithJobs(status, jobs))));
  });
  commands->Send(std::move(command));
}

void AdminServer::Impl::History(Responder& reply) {
  if (!samples) {
    return reply.Send(Uncached(ErrorResponse(404, "history is off")));
  }
  const double interval =
      std::chrono::duration<double>(options.history_interval).count();
  reply.Send(Uncached(
      JsonResponse(200, HistoryJson(*samples, *state->Current(), interval,
                                    AnswerTime::Now().unix_seconds))));
}

void AdminServer::Impl::Page(Responder& reply) {
  reply.Send(StatusPageResponse());
}

void AdminServer::Impl::MetricsText(Responder& reply) {
  if (metrics == nullptr) {
    return reply.Send(Uncached(ErrorResponse(503, "metrics are not enabled")));
  }
  // Held for the loop: the range of a range-for over Current()->workers
  // would outlive the temporary shared_ptr, and the loop may publish (and
  // free) the view meanwhile.
  const std::shared_ptr<const StateView> view = state->Current();
  std::vector<WorkerPid> pids;
  for (const WorkerView& w : view->workers) {
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
    return app_scraper->Scrape(std::move(own), *view, std::move(reply));
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
  if (o.history_samples > 0) {
    impl.samples =
        std::make_unique<SampleRing>(o.history_max_slots, o.history_samples);
    impl.sampler = std::make_unique<ResourceSampler>(
        impl.state, impl.samples.get(), o.history_interval);
    impl.sampler->Start();
  }
  return Status::Ok();
}

void AdminServer::Stop() {
  if (!impl_->server) return;
  impl_->server->Stop();
  impl_->server.reset();
  if (impl_->sampler) impl_->sampler->Stop();
  impl_->sampler.reset();
  impl_->samples.reset();
}

int AdminServer::port() const { return impl_->port; }

int AdminServer::connections() const {
  return impl_->server ? impl_->server->connections() : 0;
}

}  // namespace corefork

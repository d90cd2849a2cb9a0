// The status page served at GET / on the admin port: one self-contained HTML
// document (inline CSS and script, no external URL: pods are often offline)
// that polls /status and /status/history and draws the workers, their CPU
// and RSS charts, recent exits, jobs and the sizing. Compiled in; built once
// per process (thread-safe static), any thread.
#pragma once

#include <string>
#include <string_view>

#include "admin/http_lite.h"

namespace corefork {

// The page itself.
std::string_view StatusPageHtml();

// The Content-Security-Policy sent with it: nothing but this page's own
// script and style (by SHA-256 hash, no 'unsafe-inline') and same-origin
// fetches; no frames, forms, images, plugins or base URL.
const std::string& StatusPageCsp();

// 200 text/html with the CSP, X-Content-Type-Options: nosniff,
// Referrer-Policy: no-referrer and Cache-Control: no-store.
HttpResponse StatusPageResponse();

}  // namespace corefork

#pragma once

// The farm at a glance: server-rendered status pages, a JSON API with the
// same content and /metrics, on the master's embedded HTTP server.
//
//   /                 redirects to /builders
//   /builders         every builder, its state and current job; counts per family
//   /builders/<name>  one builder and the builds it built
//   /queue            waiting builds in dispatch order, with why each waits
//   /builds           recent builds (?state=NAME, ?limit=N); /builds/<id> one build
//   /api/...          the same content as JSON (see README.md, "Status pages and API")
//   /metrics          Prometheus text format
//
// Threading: the routes run on the server's threads; they only read the
// store (thread-safe by contract) and the Metrics registry (thread-safe).
// Ownership: the routes keep references to store, librarian, metrics and
// time source, which must outlive the server.
// Errors: an unknown build or builder is a 404, a bad ?state= a 400; a store
// error becomes the server's 500.
// Every text that comes from slaves or operators (names, log tails,
// dependencies, file names) goes through html_escape() before it reaches a
// page.

#include <memory>
#include <string>
#include <string_view>

#include "buildd/build_store.hpp"
#include "buildd/clock.hpp"
#include "buildd/export.hpp"
#include "buildd/http_server.hpp"
#include "buildd/librarian.hpp"
#include "buildd/scheduler.hpp"
#include "buildd/web/metrics.hpp"

namespace buildd {

// & < > " ' as character references: safe in element content and in quoted
// attribute values.
BUILDD_API std::string html_escape(std::string_view text);

// Registers the routes above; call before server.start(). The queue is shown
// in `scheduler`'s order (the DefaultScheduler when null).
BUILDD_API void add_status_routes(HttpServer& server, BuildStore& store, Librarian& librarian,
                                  Metrics& metrics, const TimeSource& time,
                                  std::shared_ptr<const Scheduler> scheduler = nullptr);

}  // namespace buildd

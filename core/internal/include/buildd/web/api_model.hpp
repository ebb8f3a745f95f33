#pragma once

// The farm's records as JSON: one schema for the HTTP API (/api/...) and for
// the CLI's `--format json`, so a script reads the same names from both.
// Every document is an object that opens with
//
//   "schema_version": kJsonSchemaVersion, "kind": "<what it is>", "generated": "<UTC time>"
//
// and holds the records below. The schema is documented in docs/json-schema.md;
// kJsonSchemaVersion goes up when a field is renamed, removed or changes
// meaning (adding a field does not change it).
//
// Threading: the functions only read the store (thread-safe by contract).
// Ownership: nothing is kept; each call reads what it needs.
// Errors: an unknown builder or build throws Error(kNotFound); store errors
// propagate unchanged.

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "buildd/build_store.hpp"
#include "buildd/clock.hpp"
#include "buildd/export.hpp"
#include "buildd/librarian.hpp"
#include "buildd/scheduler.hpp"

namespace buildd::api {

inline constexpr int kJsonSchemaVersion = 1;

// A builder's state as the pipeline's state machine left it: "building"
// (holds a job), "disabled", "unreachable" (its last status() failed),
// "dirty" (the slave reports something other than IDLE and no job of ours:
// being cleaned or aborted) or "idle".
BUILDD_API std::string builder_state(const Builder& builder, bool has_job);

// The last `n` lines of `text` (trailing newlines dropped).
BUILDD_API std::string last_lines(const std::string& text, std::size_t n);

// Builders per family name and state (every state of builder_state(), 0 when
// none): what the "builders" document's `families` and the buildd_builders
// gauge count, without the per-builder records.
using BuilderCounts = std::map<std::string, std::map<std::string, int>>;
BUILDD_API BuilderCounts builder_counts(BuildStore& store);

// kind "builders": every builder, per-family counts by state.
BUILDD_API nlohmann::json builders_document(BuildStore& store, TimePoint now);
// kind "builder": one builder, its build counts and its last `history` builds.
BUILDD_API nlohmann::json builder_document(BuildStore& store, const std::string& name,
                                           TimePoint now, std::size_t history = 100);
// kind "queue": the running jobs, then at most `limit` (0: all) waiting builds
// in the scheduler's dispatch order, each with why it is there (`explain`)
// and why it waits (`reason`); and the families whose builds cannot be
// dispatched at all (no usable builder or no chroot).
BUILDD_API nlohmann::json queue_document(BuildStore& store, const Scheduler& scheduler,
                                         TimePoint now, std::size_t limit);
// kind "builds": a page of the builds list.
BUILDD_API nlohmann::json builds_document(BuildStore& store, const BuildListQuery& query,
                                          TimePoint now);
// kind "build": one build with its files (URLs from `librarian`) and queue entry.
BUILDD_API nlohmann::json build_document(BuildStore& store, Librarian& librarian, Id build_id,
                                         TimePoint now);
// kind "families": each processor family, its processors, builders and arch releases.
BUILDD_API nlohmann::json families_document(BuildStore& store, TimePoint now);
// kind "archreleases": each arch release, its family and chroot.
BUILDD_API nlohmann::json archreleases_document(BuildStore& store, TimePoint now);

}  // namespace buildd::api

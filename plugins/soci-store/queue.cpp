// The SOCI store's queue: active jobs, dispatch candidates and claims.

#include "soci_detail.hpp"

namespace buildd::soci_store {

using namespace detail;

std::string candidates_query(std::size_t limit) {
  return queued_select() +
         " WHERE q.distro_arch_release_id = :d AND q.builder_id IS NULL AND b.state = 0 ORDER BY "
         "q.score DESC, q.id" +
         limit_clause(limit);
}

std::vector<QueuedBuild> SociStore::active_jobs() {
  return with_session("listing active jobs", [&](soci::session& sql) {
    return select_rows<QueuedRow>(
        sql, queued_select() + " WHERE q.builder_id IS NOT NULL ORDER BY q.id");
  });
}

std::vector<QueuedBuild> SociStore::candidates(const std::vector<Id>& distro_arch_release_ids,
                                               std::size_t limit) {
  return with_session("listing candidates", [&](soci::session& sql) {
    std::vector<QueuedBuild> out;
    if (limit == 0) return out;
    // One index range scan per arch release (the partial index on waiting
    // entries), each at most `limit` rows, then merged here.
    const std::string query = candidates_query(kept_limit(limit));
    std::vector<Id> ids = distro_arch_release_ids;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (Id dar : ids) {
      long long d = dar;
      auto rows = select_rows<QueuedRow>(sql, query, [&](auto& p) { p, soci::use(d); });
      out.insert(out.end(), rows.begin(), rows.end());
    }
    std::sort(out.begin(), out.end(), [](const QueuedBuild& a, const QueuedBuild& b) {
      if (a.entry.score != b.entry.score) return a.entry.score > b.entry.score;
      return a.entry.id < b.entry.id;
    });
    if (out.size() > limit) out.resize(limit);
    return out;
  });
}

std::vector<QueuedBuild> SociStore::candidates_per_archive(
    const std::vector<Id>& distro_arch_release_ids, std::size_t per_archive) {
  return with_session("listing candidates per archive", [&](soci::session& sql) {
    std::vector<QueuedBuild> out;
    if (per_archive == 0) return out;
    // The archives with waiting entries of one arch release, by a skip scan
    // of the waiting-entries-per-archive index (one probe per archive), then
    // one index range scan per archive: the cost is the number of archives,
    // not the depth of the queue.
    const std::string archives_query =
        "WITH RECURSIVE a(name) AS (SELECT MIN(archive) FROM build_queue WHERE "
        "distro_arch_release_id = :d AND builder_id IS NULL UNION ALL SELECT (SELECT "
        "MIN(w.archive) FROM build_queue w WHERE w.distro_arch_release_id = :e AND w.builder_id "
        "IS NULL AND w.archive > a.name) FROM a WHERE a.name IS NOT NULL) SELECT name FROM a "
        "WHERE name IS NOT NULL";
    const std::string rows_query =
        queued_select() +
        " WHERE q.distro_arch_release_id = :d AND q.builder_id IS NULL AND q.archive = :a AND "
        "b.state = 0 ORDER BY q.score DESC, q.id" +
        limit_clause(kept_limit(per_archive));
    std::vector<Id> ids = distro_arch_release_ids;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (Id dar : ids) {
      long long d = dar, e = dar;
      std::vector<std::string> archives;
      {
        std::string name;
        Prepared st =
            (Prepared(sql, archives_query), soci::use(d, "d"), soci::use(e, "e"), soci::into(name));
        if (st.execute(true)) {
          do archives.push_back(name);
          while (st.fetch());
        }
      }
      for (std::string& archive : archives) {
        auto rows = select_rows<QueuedRow>(sql, rows_query,
                                           [&](auto& p) { p, soci::use(d), soci::use(archive); });
        if (rows.size() > per_archive) rows.resize(per_archive);
        out.insert(out.end(), rows.begin(), rows.end());
      }
    }
    return out;
  });
}

std::map<std::string, std::size_t> SociStore::running_per_archive() {
  return with_session("counting running builds per archive", [&](soci::session& sql) {
    std::map<std::string, std::size_t> out;
    std::string archive;
    long long count = 0;
    Prepared st = (Prepared(sql,
                            "SELECT archive, COUNT(*) FROM build_queue WHERE "
                            "builder_id IS NOT NULL GROUP BY archive"),
                   soci::into(archive), soci::into(count));
    if (st.execute(true)) {
      do out[archive] = static_cast<std::size_t>(count);
      while (st.fetch());
    }
    return out;
  });
}

std::vector<QueuedBuild> SociStore::waiting(std::size_t limit) {
  return with_session("listing the queue", [&](soci::session& sql) {
    return select_rows<QueuedRow>(
        sql, queued_select() + " WHERE q.builder_id IS NULL ORDER BY q.score DESC, q.id" +
                 limit_clause(limit));
  });
}

std::optional<QueuedBuild> SociStore::active_job_for_builder(Id builder_id) {
  return with_session("finding a builder's job", [&](soci::session& sql) {
    long long id = builder_id;
    auto rows = select_rows<QueuedRow>(sql, queued_select() + " WHERE q.builder_id = :r",
                                       [&](auto& p) { p, soci::use(id); });
    return rows.empty() ? std::nullopt : std::optional<QueuedBuild>(rows.front());
  });
}

namespace {

// claim()'s compare-and-set, inside the caller's transaction. False (with
// some of its rows possibly written: the caller rolls back) when it lost.
bool claim_in(soci::session& sql, const Claim& c, TimePoint now) {
  long long q = c.queue_id, b = c.build_id, r = c.builder_id, t = to_micros(now);
  // The builder's row lock first: remove_builder() takes the same lock, so
  // a builder is never given a job while it is being removed.
  Prepared live =
      (Prepared(sql, "UPDATE builder SET removed = 0 WHERE id = :r AND removed = 0"), soci::use(r));
  live.execute(true);
  if (live.get_affected_rows() != 1) return false;
  // One active job per builder: the unique index is the last word (two
  // masters racing), this predicate the polite first one.
  Prepared st = (Prepared(sql,
                          "UPDATE build_queue SET builder_id = :r, buildstart = :t, attempt = "
                          "attempt + 1 WHERE id = :q AND build_id = :b AND builder_id IS NULL AND "
                          "NOT EXISTS (SELECT 1 FROM build_queue o WHERE o.builder_id = :r2)"),
                 soci::use(r), soci::use(t), soci::use(q), soci::use(b), soci::use(r));
  st.execute(true);
  if (st.get_affected_rows() != 1) return false;
  Prepared build =
      (Prepared(sql,
                "UPDATE build SET state = 6, started = :t, builder_id = :r WHERE id = :b "
                "AND state = 0"),
       soci::use(t), soci::use(r), soci::use(b));
  build.execute(true);
  return build.get_affected_rows() == 1;
}

}  // namespace

bool SociStore::claim(Id queue_id, Id build_id, Id builder_id, TimePoint now) try {
  return with_session("claiming a queue entry", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    if (!claim_in(sql, Claim{queue_id, build_id, builder_id}, now)) return false;  // rolled back
    tx.commit();
    return true;
  });
} catch (const Error& e) {
  // The one-job-per-builder index: another master gave this builder a job
  // between the predicate and the write. Lost, like any other race.
  if (e.category() == ErrorCategory::kConflict) return false;
  throw;
}

std::vector<bool> SociStore::claim_all(const std::vector<Claim>& claims, TimePoint now) {
  if (claims.empty()) return {};
  return with_session("claiming queue entries", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    std::vector<bool> results;
    for (const Claim& c : claims) {
      // A savepoint per claim: a lost one (including the unique index's
      // verdict) is undone alone.
      sql << "SAVEPOINT claim";
      bool won = false;
      try {
        won = claim_in(sql, c, now);
      } catch (const soci::soci_error& e) {
        if (!is_constraint_violation(e)) throw;
      }
      if (!won) sql << "ROLLBACK TO SAVEPOINT claim";
      sql << "RELEASE SAVEPOINT claim";
      results.push_back(won);
    }
    tx.commit();
    return results;
  });
}

}  // namespace buildd::soci_store

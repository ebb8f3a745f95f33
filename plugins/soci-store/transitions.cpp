// The SOCI store's commit: the pipeline's changes as conditional transitions.

#include "soci_detail.hpp"

namespace buildd::soci_store {

using namespace detail;

CommitResult SociStore::commit(const CycleChanges& changes) {
  if (changes.empty()) return {};
  return commit_all({&changes}).front();
}

std::vector<CommitResult> SociStore::commit_all(const std::vector<const CycleChanges*>& batch) {
  return with_session("committing the pipeline's changes", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    std::vector<CommitResult> results;
    for (const CycleChanges* changes : batch) results.push_back(apply(sql, *changes));
    tx.commit();
    return results;
  });
}

// One member's changes, inside the caller's transaction.
CommitResult SociStore::apply(soci::session& sql, const CycleChanges& changes) {
  CommitResult result;
  long long queue_id = 0, build_id = 0, at = 0;
  std::string text;
  auto applied = [&](Prepared& st) {
    st.execute(true);
    if (st.get_affected_rows() > 0) return true;
    ++result.stale;
    return false;
  };

  // Log tails and abort times only for an entry that still has its builder.
  if (!changes.logtails.empty()) {
    Prepared st = (Prepared(sql,
                            "UPDATE build_queue SET logtail = :t WHERE id = :q AND builder_id IS "
                            "NOT NULL"),
                   soci::use(text), soci::use(queue_id));
    for (const auto& u : changes.logtails) {
      text = u.logtail;
      queue_id = u.queue_id;
      applied(st);
    }
  }
  // A live log grows only at its end, only for the attempt that read it.
  if (!changes.live_logs.empty()) {
    long long offset = 0, size = 0;
    int attempt = 0;
    Prepared grow =
        (Prepared(sql,
                  "UPDATE build_queue SET live_log_size = live_log_size + :n WHERE id = :q "
                  "AND builder_id IS NOT NULL AND attempt = :a AND live_log_size = :o"),
         soci::use(size), soci::use(queue_id), soci::use(attempt), soci::use(offset));
    Prepared chunk =
        (Prepared(sql,
                  "INSERT INTO build_live_log (queue_id, log_offset, size, data) VALUES "
                  "(:q, :o, :n, :d)"),
         soci::use(queue_id), soci::use(offset), soci::use(size), soci::use(text));
    for (const auto& a : changes.live_logs) {
      if (a.bytes.empty()) continue;
      queue_id = a.queue_id;
      attempt = a.attempt;
      offset = static_cast<long long>(a.offset);
      size = static_cast<long long>(a.bytes.size());
      if (!applied(grow)) continue;
      text = base64_encode(a.bytes);
      chunk.execute(true);
    }
  }
  if (!changes.aborts.empty()) {
    Prepared st =
        (Prepared(sql,
                  "UPDATE build_queue SET abort_sent = :a WHERE id = :q AND builder_id IS "
                  "NOT NULL"),
         soci::use(at), soci::use(queue_id));
    for (const auto& a : changes.aborts) {
      at = to_micros(a.at);
      queue_id = a.queue_id;
      applied(st);
    }
  }
  if (!changes.builders.empty()) {
    long long builder = 0;
    int ok = 1, failures = 0, reset = 0;
    long long now = to_micros(Clock::now());
    // The pipeline may disable a builder, never enable one: the operator's
    // flag and notes stand unless this update disables. disabled_at comes
    // first: MariaDB evaluates SET left to right, with the values assigned.
    Prepared st = (Prepared(sql,
                            "UPDATE builder SET disabled_at = CASE WHEN :ok = 0 AND builderok = 1 "
                            "THEN :now ELSE disabled_at END, builderok = CASE WHEN :ok2 = 0 THEN 0 "
                            "ELSE builderok END, failnotes = CASE WHEN :ok3 = 0 THEN :n ELSE "
                            "failnotes END, failure_count = CASE WHEN :r = 1 THEN 0 ELSE "
                            "failure_count END + :f WHERE id = :id"),
                   soci::use(ok), soci::use(now), soci::use(ok), soci::use(ok), soci::use(text),
                   soci::use(reset), soci::use(failures), soci::use(builder));
    for (const auto& u : changes.builders) {
      ok = u.builderok ? 1 : 0;
      text = u.failnotes;
      reset = u.reset_failures ? 1 : 0;
      failures = u.failure_delta;
      builder = u.builder_id;
      st.execute(true);
      if (st.get_affected_rows() == 0) {
        throw Error(ErrorCategory::kNotFound,
                    "builder " + std::to_string(u.builder_id) + " does not exist");
      }
    }
  }
  if (!changes.counters.empty()) {
    int failures = 0, give_backs = 0;
    Prepared st = (Prepared(sql,
                            "UPDATE build SET failure_count = failure_count + :f, give_back_count "
                            "= give_back_count + :g WHERE id = :b"),
                   soci::use(failures), soci::use(give_backs), soci::use(build_id));
    for (const auto& c : changes.counters) {
      failures = c.failure_delta;
      give_backs = c.give_back_delta;
      build_id = c.build_id;
      st.execute(true);
    }
  }
  if (!changes.resets.empty()) {
    // Only a BUILDING build of the same dispatch attempt goes back to the
    // queue: a cancel (CANCELLING), a completion or a newer attempt wins.
    int attempt = 0;
    Prepared build =
        (Prepared(sql,
                  "UPDATE build SET state = 0, started = NULL WHERE id = :b AND state = 6 "
                  "AND EXISTS (SELECT 1 FROM build_queue q WHERE q.id = :q AND q.build_id "
                  "= :b2 AND q.builder_id IS NOT NULL AND (:a = 0 OR q.attempt = :a2))"),
         soci::use(build_id), soci::use(queue_id), soci::use(build_id), soci::use(attempt),
         soci::use(attempt));
    Prepared queue =
        (Prepared(sql,
                  "UPDATE build_queue SET builder_id = NULL, buildstart = NULL, logtail = "
                  "'', abort_sent = NULL, live_log_size = 0 WHERE id = :q"),
         soci::use(queue_id));
    Prepared live_log =
        (Prepared(sql, "DELETE FROM build_live_log WHERE queue_id = :q"), soci::use(queue_id));
    for (const auto& r : changes.resets) {
      queue_id = r.queue_id;
      build_id = r.build_id;
      attempt = r.attempt;
      if (!applied(build)) continue;
      queue.execute(true);
      live_log.execute(true);
    }
  }
  if (!changes.completions.empty()) {
    int state = 0;
    Nullable built, duration, builder, log;
    Prepared update =
        (Prepared(sql,
                  "UPDATE build SET state = :s, built = :bt, duration = :du, builder_id = "
                  "COALESCE(:br, builder_id), buildlog_id = :l, dependencies = :dep "
                  "WHERE id = :b"),
         soci::use(state), soci::use(built.value, built.ind),
         soci::use(duration.value, duration.ind), soci::use(builder.value, builder.ind),
         soci::use(log.value, log.ind), soci::use(text), soci::use(build_id));
    long long file_id = 0;
    std::string filename;
    Prepared result_file =
        (Prepared(sql,
                  "INSERT INTO build_result_file (build_id, filename, library_file_id) "
                  "VALUES (:b, :n, :f)"),
         soci::use(build_id), soci::use(filename), soci::use(file_id));
    // The entry goes first: once it is gone the completion was committed
    // already (or the build was cancelled while waiting), and this one is
    // dropped whole.
    Prepared dequeue = (Prepared(sql, "DELETE FROM build_queue WHERE id = :q AND build_id = :b"),
                        soci::use(queue_id), soci::use(build_id));
    // A file the pipeline has just archived (id 0) is recorded here; one
    // with an id must exist.
    auto file_id_of = [&](const LibraryFile& file, const std::string& what) -> long long {
      if (file.id == 0) return insert_library_file(sql, file).id;
      if (!exists(sql, "library_file", file.id)) {
        throw Error(ErrorCategory::kNotFound,
                    what + " library file " + std::to_string(file.id) + " does not exist");
      }
      return file.id;
    };
    for (const auto& c : changes.completions) {
      state = static_cast<int>(c.state);
      built = nullable_time(c.built);
      duration = c.duration ? Nullable(c.duration->count()) : Nullable();
      builder = nullable_id(c.builder_id);
      text = c.dependencies;
      build_id = c.build_id;
      queue_id = c.queue_id;
      if (!applied(dequeue)) continue;
      log = c.buildlog ? Nullable(file_id_of(*c.buildlog, "build log")) : Nullable();
      update.execute(true);
      if (update.get_affected_rows() == 0) {
        throw Error(ErrorCategory::kNotFound,
                    "build " + std::to_string(c.build_id) + " does not exist");
      }
      for (const auto& [name, file] : c.result_files) {
        file_id = file_id_of(file, name);
        filename = name;
        result_file.execute(true);
      }
    }
  }
  if (!changes.slave_states.empty()) {
    // What the slave is doing is an observation, not a transition: it is
    // recorded as seen, and a removed builder's row just takes it.
    long long builder = 0;
    Prepared st =
        (Prepared(sql,
                  "UPDATE builder SET slave_state = :s, slave_state_since = :t WHERE id = "
                  ":id"),
         soci::use(text), soci::use(at), soci::use(builder));
    for (const auto& u : changes.slave_states) {
      text = u.state;
      at = to_micros(u.since);
      builder = u.builder_id;
      st.execute(true);
    }
  }
  return result;
}

}  // namespace buildd::soci_store

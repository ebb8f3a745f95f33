// The SOCI store's masters and builder leases (several masters on one
// database).

#include "soci_detail.hpp"

#include "buildd/clock.hpp"

namespace buildd::soci_store {

using namespace detail;

MasterRegistration SociStore::heartbeat(const std::string& master_id, const std::string& instance,
                                        TimePoint now, std::chrono::seconds ttl,
                                        const std::string& replacing) {
  return with_session("renewing the master's heartbeat", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    long long at = to_micros(now), stale = to_micros(now - ttl), seen = 0;
    MasterRegistration refused;
    refused.held = false;
    if (!replacing.empty()) {
      sql << "DELETE FROM builder_lease WHERE master_id IN (SELECT id FROM master WHERE instance "
             "= :i)",
          soci::use(replacing);
      sql << "DELETE FROM master WHERE instance = :i", soci::use(replacing);
    }
    if (engine_ == Engine::kSqlite) {
      // SQLite has one writer and nothing worth sharing: one master.
      Prepared st = (Prepared(sql,
                              "SELECT id, instance, heartbeat FROM master WHERE id <> :id AND "
                              "heartbeat >= :stale"),
                     soci::into(refused.holder_id), soci::into(refused.holder_instance),
                     soci::into(seen), soci::use(master_id), soci::use(stale));
      if (st.execute(true)) {
        refused.holder_heartbeat = from_micros(seen);
        return refused;  // the destructor rolls back
      }
    }
    // Taken when held by this instance or abandoned (heartbeat older than the
    // TTL), or when free; otherwise left alone, and this instance is refused.
    // Two instances racing for one id: the row lock (or the key) picks one.
    Prepared renew =
        (Prepared(sql,
                  "UPDATE master SET instance = :inst, heartbeat = :at WHERE id = :id AND "
                  "(instance = :inst2 OR heartbeat < :stale)"),
         soci::use(instance), soci::use(at), soci::use(master_id), soci::use(instance),
         soci::use(stale));
    renew.execute(true);
    if (renew.get_affected_rows() == 0) {
      Prepared add = (Prepared(sql, insert_unless_present(
                                        engine_,
                                        "INSERT INTO master (id, instance, heartbeat) VALUES (:id, "
                                        ":inst, :at)")),
                      soci::use(master_id), soci::use(instance), soci::use(at));
      add.execute(true);
      if (add.get_affected_rows() == 0) {
        refused.holder_id = master_id;
        sql << "SELECT instance, heartbeat FROM master WHERE id = :id",
            soci::into(refused.holder_instance), soci::into(seen), soci::use(master_id);
        refused.holder_heartbeat = from_micros(seen);
        return refused;
      }
    }
    tx.commit();
    return MasterRegistration{};
  });
}

std::vector<std::string> SociStore::live_masters(TimePoint now, std::chrono::seconds ttl) {
  return with_session("listing live masters", [&](soci::session& sql) {
    long long stale = to_micros(now - ttl);
    std::vector<std::string> ids;
    std::string id;
    Prepared st = (Prepared(sql, "SELECT id FROM master WHERE heartbeat >= :stale ORDER BY id"),
                   soci::into(id), soci::use(stale));
    st.execute();
    while (st.fetch()) ids.push_back(id);
    return ids;
  });
}

std::vector<Id> SociStore::balance_leases(const std::string& master_id, std::size_t target,
                                          TimePoint now, std::chrono::seconds ttl) {
  return with_session("balancing builder leases", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    long long at = to_micros(now), expires = to_micros(now + ttl), builder = 0;
    sql << "UPDATE builder_lease SET expires = :e WHERE master_id = :m", soci::use(expires),
        soci::use(master_id);
    std::vector<Id> held;
    {
      Prepared st = (Prepared(sql,
                              "SELECT builder_id FROM builder_lease WHERE master_id = :m ORDER BY "
                              "builder_id"),
                     soci::into(builder), soci::use(master_id));
      st.execute();
      while (st.fetch()) held.push_back(builder);
    }
    // Beyond its share: the newest builders go back (another master takes
    // them, adopting whatever they are building).
    while (held.size() > target) {
      long long id = held.back();
      sql << "DELETE FROM builder_lease WHERE builder_id = :b AND master_id = :m", soci::use(id),
          soci::use(master_id);
      held.pop_back();
    }
    if (held.size() < target) {
      std::vector<long long> free;
      {
        Prepared st =
            (Prepared(sql,
                      "SELECT r.id FROM builder r LEFT JOIN builder_lease l ON l.builder_id "
                      "= r.id WHERE r.removed = 0 AND (l.builder_id IS NULL OR l.expires < "
                      ":now) ORDER BY r.id" +
                          limit_clause(kept_limit(target - held.size()))),
             soci::into(builder), soci::use(at));
        st.execute();
        while (free.size() < target - held.size() && st.fetch()) free.push_back(builder);
      }
      // Another master may take the same builder at the same instant: the
      // row lock (or the key, for a builder never leased) lets one have it.
      Prepared take =
          (Prepared(sql,
                    "UPDATE builder_lease SET master_id = :m, expires = :e WHERE builder_id "
                    "= :b AND expires < :now"),
           soci::use(master_id), soci::use(expires), soci::use(builder), soci::use(at));
      Prepared add =
          (Prepared(sql, insert_unless_present(engine_,
                                               "INSERT INTO builder_lease (builder_id, "
                                               "master_id, expires) VALUES (:b, :m, :e)")),
           soci::use(builder), soci::use(master_id), soci::use(expires));
      for (long long id : free) {
        builder = id;
        take.execute(true);
        if (take.get_affected_rows() == 0) add.execute(true);
        if (take.get_affected_rows() > 0 || add.get_affected_rows() > 0) held.push_back(id);
      }
      std::sort(held.begin(), held.end());
    }
    tx.commit();
    return held;
  });
}

void SociStore::leave(const std::string& master_id, const std::string& instance) {
  with_session("leaving the farm", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    sql << "DELETE FROM builder_lease WHERE master_id = :m", soci::use(master_id);
    sql << "DELETE FROM master WHERE id = :m AND instance = :i", soci::use(master_id),
        soci::use(instance);
    tx.commit();
    return 0;
  });
}

}  // namespace buildd::soci_store

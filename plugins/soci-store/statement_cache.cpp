// Statements prepared once per pooled session (see statement_cache.hpp).

#include "statement_cache.hpp"

#include <soci/sqlite3/soci-sqlite3.h>
#include <sqlite3.h>

namespace buildd::soci_store::detail {

StatementCache::Entry* StatementCache::acquire(soci::session& sql, const std::string& query) {
  auto found = entries_.find(query);
  if (found != entries_.end()) {
    if (found->second.in_use) return nullptr;
    found->second.in_use = true;
    return &found->second;
  }
  if (entries_.empty()) sqlite_ = sql.get_backend_name() == "sqlite3";
  if (entries_.size() >= kCapacity) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = it->second.in_use ? std::next(it) : entries_.erase(it);
    }
  }
  auto statement = std::make_unique<soci::statement>(sql);
  statement->alloc();
  statement->prepare(query);
  auto [it, inserted] = entries_.try_emplace(query);
  Entry& entry = it->second;
  entry.statement = std::move(statement);
  entry.in_use = true;
  entry.query = &it->first;
  return &entry;
}

void StatementCache::release(Entry* entry, bool healthy) {
  if (healthy) {
    entry->in_use = false;
    return;
  }
  const std::string query = *entry->query;  // not a reference into the erased node
  entries_.erase(query);
}

void StatementCache::clear() {
  entries_.clear();
}

ActiveStatements& active_statements() {
  thread_local ActiveStatements active;
  return active;
}

ActiveStatementsScope::ActiveStatementsScope(soci::session& session, StatementCache& cache)
    : previous_(active_statements()) {
  active_statements() = ActiveStatements{&session, &cache};
}

ActiveStatementsScope::~ActiveStatementsScope() {
  active_statements() = previous_;
}

Prepared::Prepared(soci::session& sql, const std::string& query) {
  const ActiveStatements& active = active_statements();
  if (active.session == &sql) {
    entry_ = active.cache->acquire(sql, query);
    if (entry_) {
      cache_ = active.cache;
      statement_ = entry_->statement.get();
      sqlite_ = cache_->sqlite();
    }
  }
  if (!statement_) {
    sqlite_ = sql.get_backend_name() == "sqlite3";
    own_ = std::make_unique<soci::statement>(sql);
    own_->alloc();
    own_->prepare(query);
    statement_ = own_.get();
  }
}

Prepared::Prepared(Prepared&& other) noexcept
    : statement_(other.statement_),
      own_(std::move(other.own_)),
      cache_(other.cache_),
      entry_(other.entry_),
      bound_(other.bound_),
      healthy_(other.healthy_),
      sqlite_(other.sqlite_) {
  other.statement_ = nullptr;
  other.cache_ = nullptr;
  other.entry_ = nullptr;
}

Prepared::~Prepared() {
  if (!statement_) return;  // moved from
  try {
    statement_->bind_clean_up();
    // A SQLite statement that has not run to its end keeps its read
    // transaction (and so an old snapshot) open until it is reset. (SOCI's
    // own reset() is not exported; its next execution resets it again,
    // which is harmless.)
    if (sqlite_) {
      auto* backend = static_cast<soci::sqlite3_statement_backend*>(statement_->get_backend());
      if (backend && backend->stmt_) sqlite_api::sqlite3_reset(backend->stmt_);
    }
  } catch (...) {
    healthy_ = false;
  }
  if (cache_) cache_->release(entry_, healthy_);
}

void Prepared::bind_once() {
  if (bound_) return;
  statement_->define_and_bind();
  bound_ = true;
}

bool Prepared::execute(bool exchange_data) {
  try {
    bind_once();
    return statement_->execute(exchange_data);
  } catch (...) {
    healthy_ = false;
    throw;
  }
}

bool Prepared::fetch() {
  try {
    return statement_->fetch();
  } catch (...) {
    healthy_ = false;
    throw;
  }
}

}  // namespace buildd::soci_store::detail

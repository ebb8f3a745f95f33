#include "xmlrpc_slave.hpp"

#include <curl/curl.h>

#include <xmlrpc-c/base.h>
#include <xmlrpc-c/base.hpp>
#include <xmlrpc-c/client.hpp>
#include <xmlrpc-c/client_transport.hpp>
#include <xmlrpc-c/girerr.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

#include "buildd/digest.hpp"
#include "buildd/error.hpp"
#include "buildd/logging.hpp"
#include "reply.hpp"

namespace buildd::xmlrpc_slave {

namespace {

using xmlrpc_c::value;

long to_ms(double seconds) {
  return static_cast<long>(std::ceil(seconds * 1000.0));
}

// xmlrpc-c's parser refuses documents over a process-wide limit (512 KiB by
// default). Our own carriage already caps each reply at max_xml_bytes, so the
// global limit only has to be at least as large; raise it, never lower it (other
// transports in the process may need more).
void raise_xml_size_limit(std::uint64_t bytes) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  const auto wanted = static_cast<size_t>(bytes) + 1024;
  if (xmlrpc_limit_get(XMLRPC_XML_SIZE_LIMIT_ID) < wanted) {
    xmlrpc_limit_set(XMLRPC_XML_SIZE_LIMIT_ID, wanted);
  }
}

}  // namespace

// Idle connections one pooled handle keeps (CURLOPT_MAXCONNECTS): enough for
// the builders it served last, few enough that the pool's connections stay
// bounded (handles x this) however many builders the transport serves.
constexpr long kConnectionsPerHandle = 4;

// The libcurl easy handles shared by every Slave of one transport. A call takes
// one and gives it back when it ends, so there are only as many handles (each
// with its connection cache and the socket pair libcurl keeps per handle) as
// calls ever ran at once. Handles are never freed before the pool, so a
// Slave may keep a pointer to the one it used last as a hint.
class HandlePool {
 public:
  struct Handle {
    CURL* curl = nullptr;
    char error_buffer[CURL_ERROR_SIZE] = {};
  };

  HandlePool() = default;
  ~HandlePool() {
    for (auto& handle : handles_) curl_easy_cleanup(handle->curl);
  }
  HandlePool(const HandlePool&) = delete;
  HandlePool& operator=(const HandlePool&) = delete;

  // `preferred` (the handle this builder used last, whose cache likely holds
  // its connection) if it is free, else the most recently returned one (its
  // connections are the warmest), else a new one.
  Handle* take(Handle* preferred) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (preferred != nullptr) {
      const auto it = std::find(idle_.begin(), idle_.end(), preferred);
      if (it != idle_.end()) {
        idle_.erase(it);
        return preferred;
      }
    }
    if (!idle_.empty()) {
      Handle* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
    auto handle = std::make_unique<Handle>();
    handle->curl = curl_easy_init();
    if (handle->curl == nullptr) throw Error(ErrorCategory::kInternal, "curl_easy_init failed");
    handles_.push_back(std::move(handle));
    return handles_.back().get();
  }

  void give_back(Handle* handle) {
    // Drops the options that point into the finished call's stack frame; the
    // connection cache survives a reset.
    curl_easy_reset(handle->curl);
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(handle);
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<Handle>> handles_;
  std::vector<Handle*> idle_;  // LIFO
};

namespace {

// A pooled handle held for one call.
class Lease {
 public:
  Lease(HandlePool& pool, HandlePool::Handle*& last) : pool_(pool), handle_(pool.take(last)) {
    last = handle_;
  }
  ~Lease() { pool_.give_back(handle_); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  CURL* curl() const { return handle_->curl; }
  char* error_buffer() const { return handle_->error_buffer; }

 private:
  HandlePool& pool_;
  HandlePool::Handle* handle_;
};

// The XML carriage under xmlrpc_c::client_xml, made for one call (so that
// an idle builder holds none of xmlrpc-c's objects): the builder's URL and
// its hint at the pooled handle it used last belong to its Slave.
class CurlCarriage : public xmlrpc_c::clientXmlTransport {
 public:
  CurlCarriage(const Options& options, HandlePool& pool, const std::string& url,
               HandlePool::Handle*& last)
      : options_(options), pool_(pool), url_(url), last_(last) {}
  CurlCarriage(const CurlCarriage&) = delete;
  CurlCarriage& operator=(const CurlCarriage&) = delete;

  void set_deadline(double seconds) { deadline_ = seconds; }

  // Options common to RPC and downloads: timeouts, TLS, no signals (threads),
  // http(s) only, no redirects.
  static void prepare(const Lease& lease, const Options& options, const std::string& url,
                      double total_seconds) {
    CURL* handle = lease.curl();
    curl_easy_reset(handle);  // keeps the connection cache
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_MAXCONNECTS, kConnectionsPerHandle);
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, to_ms(options.connect_timeout));
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, to_ms(total_seconds));
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, lease.error_buffer());
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, options.tls_verify ? 1L : 0L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, options.tls_verify ? 2L : 0L);
    if (!options.ca_file.empty()) curl_easy_setopt(handle, CURLOPT_CAINFO, options.ca_file.c_str());
    if (!options.client_cert.empty()) {
      curl_easy_setopt(handle, CURLOPT_SSLCERT, options.client_cert.c_str());
    }
    if (!options.client_key.empty()) {
      curl_easy_setopt(handle, CURLOPT_SSLKEY, options.client_key.c_str());
    }
    lease.error_buffer()[0] = '\0';
  }

  // Throws kTransport (retryable) for a failed transfer.
  static void check(const Lease& lease, CURLcode code, const std::string& what, double seconds) {
    if (code == CURLE_OK) return;
    const char* buffer = lease.error_buffer();
    std::string detail = buffer[0] != '\0' ? buffer : curl_easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT) {
      detail = "timed out after " + std::to_string(seconds) + " s (" + detail + ")";
    }
    throw Error(ErrorCategory::kTransport, what + ": " + detail, true);
  }

  static long http_status(const Lease& lease) {
    long status = 0;
    curl_easy_getinfo(lease.curl(), CURLINFO_RESPONSE_CODE, &status);
    return status;
  }

  // client_xml rewraps whatever the carriage throws; our own Error is parked
  // here and a girerr::error carries the failure through the library.
  std::optional<Error> take_pending() {
    std::optional<Error> out;
    out.swap(pending_);
    return out;
  }

  void call(xmlrpc_c::carriageParm* parm, const std::string& call_xml,
            std::string* response_xml) override {
    pending_.reset();
    try {
      post(parm, call_xml, response_xml);
    } catch (const Error& error) {
      pending_ = error;
      throw girerr::error(error.message());
    }
  }

  void post(xmlrpc_c::carriageParm* /*unused*/, const std::string& call_xml,
            std::string* response_xml) {
    struct Sink {
      std::string* out;
      std::uint64_t cap;
      bool over = false;
    } sink{response_xml, options_.max_xml_bytes};
    response_xml->clear();
    const Lease lease(pool_, last_);
    CURL* handle = lease.curl();
    prepare(lease, options_, url_, deadline_);
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: text/xml");
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle, CURLOPT_POST, 1L);
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, call_xml.data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call_xml.size()));
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(
        handle, CURLOPT_WRITEFUNCTION,
        +[](char* data, size_t size, size_t count, void* user) -> size_t {
          auto* s = static_cast<Sink*>(user);
          const size_t n = size * count;
          if (s->out->size() + n > s->cap) {
            s->over = true;
            return 0;  // aborts the transfer
          }
          s->out->append(data, n);
          return n;
        });
    const CURLcode code = curl_easy_perform(handle);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);
    curl_slist_free_all(headers);
    if (sink.over) {
      throw Error(ErrorCategory::kProtocol,
                  "reply larger than max_xml_bytes (" + std::to_string(sink.cap) + ")");
    }
    check(lease, code, "POST " + url_, deadline_);
    const long status = http_status(lease);
    if (status != 200) {
      throw Error(ErrorCategory::kTransport, "POST " + url_ + ": HTTP " + std::to_string(status),
                  true);
    }
    // A refused body is not handed on: xmlrpc-c must never parse it.
    try {
      refuse_unsafe_xml(*response_xml);
    } catch (const Error&) {
      response_xml->clear();
      throw;
    }
  }

 private:
  const Options& options_;
  HandlePool& pool_;
  const std::string& url_;
  HandlePool::Handle*& last_;  // a hint only; may be leased elsewhere
  double deadline_ = 30;
  std::optional<Error> pending_;
};

// client_xml wants a carriage parameter; ours carries nothing (the carriage
// knows its URL), and the library's own ones have protected destructors.
class NoCarriageParm : public xmlrpc_c::carriageParm {
 public:
  NoCarriageParm() = default;
  ~NoCarriageParm() override = default;
};

class XmlRpcSlave : public LaunchpadSlave {
 public:
  XmlRpcSlave(const Builder& builder, std::shared_ptr<const Options> options,
              std::shared_ptr<HandlePool> pool)
      : name_(builder.name.empty() ? builder.url : builder.name),
        base_url_(builder.url),
        rpc_url_(join_url(builder.url, "rpc")),
        shared_options_(std::move(options)),
        options_(*shared_options_),
        pool_(std::move(pool)) {}

  const std::string& builder_name() const override { return name_; }

  std::vector<std::string> echo(const std::vector<std::string>& args) override {
    xmlrpc_c::paramList params;
    for (const auto& arg : args) params.add(xmlrpc_c::value_string(arg));
    return decode_echo(call("echo", params, options_.call_timeout), name_);
  }

  SlaveInfo info() override {
    return decode_info(call("info", xmlrpc_c::paramList(), options_.call_timeout), name_);
  }

  SlaveStatus status() override {
    return decode_status(call("status", xmlrpc_c::paramList(), options_.call_timeout), name_,
                         options_.max_logtail_bytes);
  }

  EnsurePresentResult ensure_present(const std::string& sha1, const std::optional<std::string>& url,
                                     const std::string& username,
                                     const std::string& password) override {
    const value url_value =
        url ? value(xmlrpc_c::value_string(*url)) : value(xmlrpc_c::value_nil());
    value result;
    if (!legacy_ensurepresent_) {
      xmlrpc_c::paramList params;
      params.add(xmlrpc_c::value_string(sha1));
      params.add(url_value);
      params.add(xmlrpc_c::value_string(username));
      params.add(xmlrpc_c::value_string(password));
      try {
        result = call("ensurepresent", params, options_.ensurepresent_timeout);
      } catch (const Error& error) {
        if (fault_code_of(error) != kFaultApplicationError) throw;
        const std::exception_ptr first_fault = std::current_exception();
        // A 2005 slave takes (sha1, url) only and faults on 4 args. A modern one
        // faults for other reasons too; then the 2-arg retry faults as well and we
        // report the original fault.
        try {
          result =
              call("ensurepresent", legacy_params(sha1, url_value), options_.ensurepresent_timeout);
        } catch (const Error& retry_error) {
          if (retry_error.category() == ErrorCategory::kRefused)
            std::rethrow_exception(first_fault);
          throw;
        }
        legacy_ensurepresent_ = true;
        logger("transport")
            ->info("builder {}: ensurepresent takes 2 arguments (2005 slave)", name_);
      }
    } else {
      result =
          call("ensurepresent", legacy_params(sha1, url_value), options_.ensurepresent_timeout);
    }
    return decode_ensure_present(result, name_);
  }

  BuildStartResult build(const std::string& build_id, const std::string& builder_type,
                         const std::string& chroot_sha1,
                         const std::map<std::string, std::string>& filemap,
                         const BuildArgs& args) override {
    std::map<std::string, value> files;
    for (const auto& [name, sha1] : filemap) files.emplace(name, xmlrpc_c::value_string(sha1));
    std::map<std::string, value> extra;
    for (const auto& [key, arg] : args) {
      if (const auto* text = std::get_if<std::string>(&arg)) {
        extra.emplace(key, xmlrpc_c::value_string(*text));
      } else {
        extra.emplace(key, xmlrpc_c::value_boolean(std::get<bool>(arg)));
      }
    }
    xmlrpc_c::paramList params;
    params.add(xmlrpc_c::value_string(build_id));
    params.add(xmlrpc_c::value_string(builder_type));
    params.add(xmlrpc_c::value_string(chroot_sha1));
    params.add(xmlrpc_c::value_struct(files));
    params.add(xmlrpc_c::value_struct(extra));
    return decode_build_start(call("build", params, options_.call_timeout), name_);
  }

  LogRead readlog(std::uint64_t offset, std::size_t max_bytes) override {
    // XML-RPC's int is 32 bits: farther than that no log is followed.
    constexpr std::uint64_t kIntMax = 0x7fffffff;
    if (offset > kIntMax)
      throw Error(ErrorCategory::kRefused, "builder " + name_ + ": readlog(): offset " +
                                               std::to_string(offset) + " is past 2 GiB");
    xmlrpc_c::paramList params;
    params.add(xmlrpc_c::value_int(static_cast<int>(offset)));
    params.add(xmlrpc_c::value_int(static_cast<int>(std::min<std::uint64_t>(max_bytes, kIntMax))));
    return decode_readlog(call("readlog", params, options_.call_timeout), name_);
  }

  std::string abort() override { return simple_call("abort"); }
  std::string clean() override { return simple_call("clean"); }

  FetchedFile fetch_file(const std::string& name, ByteSink& destination,
                         std::uint64_t max_bytes) override {
    const bool by_sha1 = is_sha1_hex(name);
    if (!by_sha1 && name != "buildlog") {
      throw Error(ErrorCategory::kProtocol, "builder " + name_ + ": fetch_file(): '" + name +
                                                "' is not a sha1 or 'buildlog'");
    }
    const std::string url = join_url(base_url_, "filecache/" + name);
    const std::string what = "builder " + name_ + ": GET " + url;
    struct Sink {
      Sink(ByteSink& s, std::uint64_t c) : out(s), cap(c) {}
      ByteSink& out;
      Hasher hasher{DigestAlgorithm::kSha1};
      std::uint64_t size = 0;
      std::uint64_t cap;
      bool over = false;
      std::exception_ptr write_error;  // from the sink: it cannot cross libcurl
    } sink(destination, max_bytes);
    const Lease lease(*pool_, last_handle_);
    CURL* handle = lease.curl();
    CurlCarriage::prepare(lease, options_, url, options_.download_timeout);
    curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(handle, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(
        handle, CURLOPT_WRITEFUNCTION,
        +[](char* data, size_t size, size_t count, void* user) -> size_t {
          auto* s = static_cast<Sink*>(user);
          const size_t n = size * count;
          if (s->size + n > s->cap) {
            s->over = true;
            return 0;
          }
          try {
            s->out.write(data, n);
          } catch (...) {
            s->write_error = std::current_exception();
            return 0;
          }
          s->hasher.update(data, n);
          s->size += n;
          return n;
        });
    const CURLcode code = curl_easy_perform(handle);
    if (sink.over) {
      throw Error(ErrorCategory::kProtocol,
                  what + ": more than " + std::to_string(max_bytes) + " bytes");
    }
    if (sink.write_error) std::rethrow_exception(sink.write_error);
    CurlCarriage::check(lease, code, what, options_.download_timeout);
    FetchedFile out;
    out.size = sink.size;
    out.sha1 = sink.hasher.hex_digest();
    if (by_sha1 && out.sha1 != name) {
      throw Error(ErrorCategory::kProtocol, what + ": content has SHA-1 " + out.sha1);
    }
    return out;
  }

 private:
  static xmlrpc_c::paramList legacy_params(const std::string& sha1, const value& url_value) {
    xmlrpc_c::paramList params;
    params.add(xmlrpc_c::value_string(sha1));
    params.add(url_value);
    return params;
  }

  std::string simple_call(const char* method) {
    const value result = call(method, xmlrpc_c::paramList(), options_.call_timeout);
    return decode_text(result, name_, method);
  }

  // One RPC. Converts every failure into buildd::Error naming the builder and
  // method; the parameters are never part of a message (they may hold credentials).
  value call(const std::string& method, const xmlrpc_c::paramList& params, double deadline) {
    const std::string where = "builder " + name_ + ": " + method + "()";
    xmlrpc_c::rpcOutcome outcome;
    CurlCarriage carriage(options_, *pool_, rpc_url_, last_handle_);
    carriage.set_deadline(deadline);
    xmlrpc_c::client_xml client(&carriage);
    NoCarriageParm parm;
    try {
      client.call(&parm, method, params, &outcome);
    } catch (Error& error) {
      error.add_context(where);
      throw;
    } catch (const std::exception& error) {
      if (auto pending = carriage.take_pending()) {
        pending->add_context(where);
        throw *pending;
      }
      // Anything else comes from xmlrpc-c's parser: the reply is not XML-RPC.
      throw Error(ErrorCategory::kProtocol, where + ": " + error.what());
    }
    return result_of(outcome, where);
  }

  std::string name_;
  std::string base_url_;
  std::string rpc_url_;
  std::shared_ptr<const Options> shared_options_;  // the transport's, shared by its Slaves
  const Options& options_;                         // *shared_options_
  std::shared_ptr<HandlePool> pool_;
  HandlePool::Handle* last_handle_ = nullptr;  // the handle its last call used
  bool legacy_ensurepresent_ = false;
};

}  // namespace

std::string join_url(const std::string& base, const std::string& rest) {
  if (!base.empty() && base.back() == '/') return base + rest;
  return base + "/" + rest;
}

Options options_from_config(const PluginConfig& config) {
  Options o;
  o.connect_timeout = config.get_seconds("connect_timeout");
  o.call_timeout = config.get_seconds("call_timeout");
  // No default of its own: it follows call_timeout.
  o.ensurepresent_timeout = config.has("ensurepresent_timeout")
                                ? config.get_seconds("ensurepresent_timeout")
                                : 5 * o.call_timeout;
  o.download_timeout = config.get_seconds("download_timeout");
  for (const auto& [key, seconds] : {std::pair{"connect_timeout", o.connect_timeout},
                                     {"call_timeout", o.call_timeout},
                                     {"ensurepresent_timeout", o.ensurepresent_timeout},
                                     {"download_timeout", o.download_timeout}}) {
    if (!(seconds > 0)) {
      throw Error(ErrorCategory::kConfig,
                  config.origin() + ": " + key + " must be a positive number of seconds");
    }
  }
  const auto positive = [&](const char* key) -> std::uint64_t {
    const std::int64_t v = config.get_int(key);
    if (v <= 0) throw Error(ErrorCategory::kConfig, config.origin() + ": " + key + " must be > 0");
    return static_cast<std::uint64_t>(v);
  };
  o.max_xml_bytes = positive("max_xml_bytes");
  o.max_logtail_bytes = positive("max_logtail_bytes");
  o.ca_file = config.has("ca_file") ? config.get_path("ca_file").string() : "";
  o.client_cert = config.has("client_cert") ? config.get_path("client_cert").string() : "";
  o.client_key = config.has("client_key") ? config.get_path("client_key").string() : "";
  o.tls_verify = config.get_bool("tls_verify");
  return o;
}

Options default_options() {
  return options_from_config(plugin_config_from(kConfigKeys));
}

XmlRpcSlaveTransport::XmlRpcSlaveTransport(Options options)
    : options_(std::make_shared<const Options>(std::move(options))),
      pool_(std::make_shared<HandlePool>()) {
  raise_xml_size_limit(options_->max_xml_bytes);
}

std::unique_ptr<Slave> XmlRpcSlaveTransport::connect(const Builder& builder) {
  return connect_launchpad(builder);
}

std::unique_ptr<LaunchpadSlave> XmlRpcSlaveTransport::connect_launchpad(const Builder& builder) {
  if (!builder.url.starts_with("http://") && !builder.url.starts_with("https://"))
    throw Error(ErrorCategory::kProtocol,
                builder.name + ": launchpad-buildd is reached over http:// or https://, not " +
                    builder.url);
  return std::make_unique<XmlRpcSlave>(builder, options_, pool_);
}

}  // namespace buildd::xmlrpc_slave

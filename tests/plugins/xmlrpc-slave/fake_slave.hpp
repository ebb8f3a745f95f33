#pragma once

// An in-test HTTP server standing in for launchpad-buildd: POST /rpc answers
// with whatever the test's handler returns (captured fixture bodies, or bodies
// generated with xmlrpc-c), GET /filecache/<name> serves a map of files. Each
// request body is recorded so tests can check what the transport sent.

#include <httplib.h>

#include <xmlrpc-c/base.hpp>
#include <xmlrpc-c/xml.hpp>

#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace buildd::test {

struct RecordedCall {
  std::string method;
  std::vector<xmlrpc_c::value> params;
};

// An XML-RPC response body carrying `result`, produced by xmlrpc-c.
inline std::string response_xml(const xmlrpc_c::value& result) {
  std::string xml;
  xmlrpc_c::xml::generateResponse(xmlrpc_c::rpcOutcome(result), xmlrpc_dialect_i8, &xml);
  return xml;
}

inline std::string fault_xml(int code, const std::string& text) {
  std::string xml;
  xmlrpc_c::xml::generateResponse(
      xmlrpc_c::rpcOutcome(xmlrpc_c::fault(text, static_cast<xmlrpc_c::fault::code_t>(code))),
      xmlrpc_dialect_i8, &xml);
  return xml;
}

class FakeSlave {
 public:
  using Handler = std::function<std::string(const RecordedCall&)>;

  explicit FakeSlave(Handler handler = {}) : handler_(std::move(handler)) {
    server_.Post("/rpc", [this](const httplib::Request& req, httplib::Response& res) {
      RecordedCall call;
      xmlrpc_c::paramList params;
      xmlrpc_c::xml::parseCall(req.body, &call.method, &params);
      for (size_t i = 0; i < params.size(); ++i) call.params.push_back(params[i]);
      Handler handler;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        calls_.push_back(call);
        handler = handler_;
      }
      res.set_content(handler(call), "text/xml");
    });
    server_.Get(R"(/filecache/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto it = files_.find(req.matches[1]);
      if (it == files_.end()) {
        res.status = 404;
        res.set_content("No Such Resource", "text/html");
        return;
      }
      res.set_content(it->second, "text/html");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("FakeSlave: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!server_.is_running()) throw std::runtime_error("FakeSlave: server did not start");
  }
  ~FakeSlave() {
    server_.stop();
    thread_.join();
  }

  void set_handler(Handler handler) {
    std::lock_guard<std::mutex> lock(mutex_);
    handler_ = std::move(handler);
  }
  // Always answers with this body.
  void reply(const std::string& body) {
    set_handler([body](const RecordedCall&) { return body; });
  }
  void serve(const std::string& name, const std::string& content) {
    std::lock_guard<std::mutex> lock(mutex_);
    files_[name] = content;
  }
  std::vector<RecordedCall> calls() {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  Handler handler_;
  std::vector<RecordedCall> calls_;
  std::map<std::string, std::string> files_;
};

}  // namespace buildd::test

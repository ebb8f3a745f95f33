#pragma once

// Helpers for the buildd-slave tests: a synchronous XML-RPC call that
// reports faults and transport errors as data, a tiny HTTP file server for
// ensurepresent downloads, value accessors, and the inputs and call of a
// modern binarypackage build.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <xmlrpc-c/base.hpp>
#include <xmlrpc-c/client.hpp>

#include "buildd/digest.hpp"

namespace buildd::test {

struct RpcResult {
  bool ok = false;
  bool transport_error = false;
  int fault_code = 0;
  std::string fault_string;
  xmlrpc_c::value value;
};

inline RpcResult rpc(const std::string& url, const std::string& method,
                     const xmlrpc_c::paramList& params = xmlrpc_c::paramList(),
                     unsigned timeout_ms = 10000) {
  RpcResult result;
  try {
    xmlrpc_c::clientXmlTransport_curl transport(
        xmlrpc_c::clientXmlTransport_curl::constrOpt().timeout(timeout_ms));
    xmlrpc_c::client_xml client(&transport);
    xmlrpc_c::carriageParm_curl0 carriage(url);
    xmlrpc_c::rpcPtr call(method, params);
    call->call(&client, &carriage);
    if (call->isSuccessful()) {
      result.ok = true;
      result.value = call->getResult();
    } else {
      xmlrpc_c::fault fault = call->getFault();
      result.fault_code = fault.getCode();
      result.fault_string = fault.getDescription();
    }
  } catch (const std::exception& e) {
    result.transport_error = true;
    result.fault_string = e.what();
  }
  return result;
}

inline std::string str(const xmlrpc_c::value& v) {
  return xmlrpc_c::value_string(v);
}
inline bool boolean(const xmlrpc_c::value& v) {
  return xmlrpc_c::value_boolean(v);
}
inline std::vector<xmlrpc_c::value> arr(const xmlrpc_c::value& v) {
  return xmlrpc_c::value_array(v).vectorValueValue();
}
inline std::map<std::string, xmlrpc_c::value> obj(const xmlrpc_c::value& v) {
  return xmlrpc_c::value_struct(v);
}
inline std::string bytes(const xmlrpc_c::value& v) {
  auto b = xmlrpc_c::value_bytestring(v).vectorUcharValue();
  return std::string(b.begin(), b.end());
}
inline std::vector<std::string> keys(const std::map<std::string, xmlrpc_c::value>& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}
inline std::map<std::string, std::string> string_map(const xmlrpc_c::value& v) {
  std::map<std::string, std::string> out;
  for (const auto& [k, x] : obj(v)) out[k] = str(x);
  return out;
}

inline xmlrpc_c::paramList params(std::initializer_list<xmlrpc_c::value> values) {
  xmlrpc_c::paramList list;
  for (const auto& v : values) list.add(v);
  return list;
}
inline xmlrpc_c::value s(const std::string& text) {
  return xmlrpc_c::value_string(text);
}
inline xmlrpc_c::value nil() {
  return xmlrpc_c::value_nil();
}
inline xmlrpc_c::value string_struct(const std::map<std::string, std::string>& m) {
  std::map<std::string, xmlrpc_c::value> out;
  for (const auto& [k, v] : m) out.emplace(k, xmlrpc_c::value_string(v));
  return xmlrpc_c::value_struct(out);
}

// Serves fixed files at /<name> on 127.0.0.1; records the Authorization
// header of the last request.
class FileServer {
 public:
  explicit FileServer(std::map<std::string, std::string> files) : files_(std::move(files)) {
    server_.Get("/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mu_);
        last_authorization_ = req.get_header_value("Authorization");
      }
      auto it = files_.find(req.matches[1].str());
      if (it == files_.end()) {
        res.status = 404;
        return;
      }
      res.set_content(it->second, "application/octet-stream");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("FileServer cannot bind");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FileServer() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& name) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + name;
  }
  std::string last_authorization() {
    std::lock_guard lock(mu_);
    return last_authorization_;
  }

 private:
  std::map<std::string, std::string> files_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string last_authorization_;
};

// A .dsc scripting the fake build.
inline std::string dsc(const std::string& outcome, double duration = 0.3,
                       const std::string& depends = "", const std::string& extra = "") {
  std::string text = "Format: 3.0 (quilt)\nSource: foo\nVersion: 1.0-1\nBinary: foo\n";
  text += "Outcome: " + outcome + "\nDuration: " + std::to_string(duration) + "\n";
  if (!depends.empty()) text += "Depends: " + depends + "\n";
  return text + extra;
}

inline const std::string& chroot_bytes() {
  static const std::string kChroot = "pretend this is chroot-amd64.tar.gz\n";
  return kChroot;
}

// Puts the chroot and a .dsc into the slave through ensurepresent.
struct Inputs {
  std::string chroot_sha1 = sha1_hex(chroot_bytes());
  std::string dsc_text;
  std::string dsc_sha1;
  FileServer files;
  explicit Inputs(const std::string& dsc_content)
      : dsc_text(dsc_content),
        dsc_sha1(sha1_hex(dsc_content)),
        files({{"chroot.tar.gz", chroot_bytes()}, {"foo_1.0-1.dsc", dsc_content}}) {}
  void upload(const std::string& url) {
    for (auto [sha1, name] : {std::pair{chroot_sha1, std::string("chroot.tar.gz")},
                              std::pair{dsc_sha1, std::string("foo_1.0-1.dsc")}}) {
      RpcResult r = rpc(url, "ensurepresent", params({s(sha1), s(files.url(name)), s(""), s("")}));
      ASSERT_TRUE(r.ok) << r.fault_string;
      ASSERT_TRUE(boolean(arr(r.value)[0])) << str(arr(r.value)[1]);
    }
  }
};

inline xmlrpc_c::value good_args() {
  return string_struct({{"series", "bookworm"}, {"suite", "bookworm"}, {"ogrecomponent", "main"}});
}

inline RpcResult start_build(const std::string& url, const std::string& build_id, const Inputs& in,
                             const std::string& type = "binarypackage",
                             xmlrpc_c::value args = good_args()) {
  return rpc(url, "build",
             params({s(build_id), s(type), s(in.chroot_sha1),
                     string_struct({{"foo_1.0-1.dsc", in.dsc_sha1}}), args}));
}

inline httplib::Result http_get(const std::string& base_url, const std::string& path,
                                httplib::Headers headers = {}) {
  static const std::string kPrefix = "http://127.0.0.1:";
  auto rest = base_url.substr(kPrefix.size());
  int port = std::stoi(rest.substr(0, rest.find('/')));
  std::string base_path = rest.substr(rest.find('/'));
  httplib::Client client("127.0.0.1", port);
  return client.Get((base_path + path).c_str(), headers);
}

// Polls status until builder_status (struct) or [0] (array) is `state`.
inline xmlrpc_c::value wait_for_state(
    const std::string& rpc_url, const std::string& state,
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    RpcResult r = rpc(rpc_url, "status");
    if (r.ok) {
      std::string current = r.value.type() == xmlrpc_c::value::TYPE_STRUCT
                                ? str(obj(r.value).at("builder_status"))
                                : str(arr(r.value).at(0));
      if (current == state) return r.value;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("timed out waiting for " + state);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace buildd::test

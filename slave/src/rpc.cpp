#include "rpc.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include <xmlrpc-c/base.hpp>
#include <xmlrpc-c/xml.hpp>

#include "buildd/logging.hpp"

namespace buildd::slave {
namespace {

constexpr int kFaultNoSuchProcedure = 8001;
constexpr int kFaultError = 8002;

xmlrpc_c::fault make_fault(int code, const std::string& text) {
  return xmlrpc_c::fault(text, static_cast<xmlrpc_c::fault::code_t>(code));
}

using Handler = std::function<xmlrpc_c::value(const xmlrpc_c::paramList&)>;

// Any exception inside a method is Fault 8002 "error", as Twisted reports a
// Python exception; the reason goes to our log only, as it goes to twistd's.
class LambdaMethod : public xmlrpc_c::method {
 public:
  LambdaMethod(std::string name, int builder, Handler handler)
      : name_(std::move(name)), builder_(builder), handler_(std::move(handler)) {}

  void execute(const xmlrpc_c::paramList& params, xmlrpc_c::value* result) override {
    try {
      *result = handler_(params);
    } catch (const xmlrpc_c::fault&) {
      throw;
    } catch (const std::exception& e) {
      buildd::logger("slave")->debug("builder {}: {} refused: {}", builder_, name_, e.what());
      throw make_fault(kFaultError, "error");
    }
  }

 private:
  std::string name_;
  int builder_;
  Handler handler_;
};

class UnknownProcedure : public xmlrpc_c::defaultMethod {
 public:
  void execute(const std::string& name, const xmlrpc_c::paramList&, xmlrpc_c::value*) override {
    throw make_fault(kFaultNoSuchProcedure, "procedure " + name + " not found");
  }
};

void expect_params(const xmlrpc_c::paramList& params, std::size_t count) {
  if (params.size() != count) {
    throw std::invalid_argument("takes " + std::to_string(count) + " arguments, got " +
                                std::to_string(params.size()));
  }
}

bool is_nil(const xmlrpc_c::value& value) {
  return value.type() == xmlrpc_c::value::TYPE_NIL;
}

std::string string_or_empty(const xmlrpc_c::value& value) {
  if (is_nil(value)) return {};
  return xmlrpc_c::value_string(value);
}

xmlrpc_c::value bytes_value(const std::string& bytes) {
  return xmlrpc_c::value_bytestring(std::vector<unsigned char>(bytes.begin(), bytes.end()));
}

xmlrpc_c::value string_map_value(const std::map<std::string, std::string>& map) {
  std::map<std::string, xmlrpc_c::value> out;
  for (const auto& [key, value] : map) out.emplace(key, xmlrpc_c::value_string(value));
  return xmlrpc_c::value_struct(out);
}

// A log tail far beyond the 2048 bytes a real slave sends.
std::string oversized_tail() {
  std::string line = "oversized logtail injected by buildd-slave --fault oversized-tail\n";
  std::string out;
  out.reserve(1 << 20);
  while (out.size() + line.size() <= (1u << 20)) out += line;
  out.append((1u << 20) - out.size(), '.');
  return out;
}

// Names a master must never use as paths. XML 1.0 cannot carry NUL or most
// control characters at all, so those come only with hostile-filemap:nul,
// which makes the whole reply unparsable (xmlrpc-c writes them raw, as
// Python's xmlrpclib does).
std::map<std::string, std::string> hostile_filemap(std::map<std::string, std::string> filemap,
                                                   bool with_nul) {
  std::string sha1 = filemap.empty() ? std::string(40, '0') : filemap.begin()->second;
  filemap["../../etc/passwd"] = sha1;
  filemap["a/b"] = sha1;
  filemap["/etc/shadow"] = sha1;
  filemap[".."] = sha1;
  filemap["tab\tand\nnewline.deb"] = sha1;
  filemap[std::string(296, 'x') + ".deb"] = sha1;
  if (with_nul) {
    filemap[std::string("nul\0name.deb", 12)] = sha1;
    filemap["bell\x07name.deb"] = sha1;
  }
  return filemap;
}

bool has_filemap(BuildResult result) {
  return result == BuildResult::kOk || result == BuildResult::kPackageFail ||
         result == BuildResult::kDepFail;
}

xmlrpc_c::value status_value(Builder& builder, const BuilderFaults& faults) {
  StatusSnapshot s = builder.status();
  if (faults.oversized_tail && s.state == BuilderState::kBuilding) s.logtail = oversized_tail();
  if (faults.hostile_filemap && s.state == BuilderState::kWaiting && has_filemap(s.result)) {
    s.filemap = hostile_filemap(s.filemap, faults.hostile_filemap_nul);
  }
  const std::string padding = faults.huge_xml ? std::string(20u << 20, 'x') : std::string();
  const std::string state = wire_name(s.state);

  if (builder.options().protocol == Protocol::k2005) {
    std::vector<xmlrpc_c::value> out{xmlrpc_c::value_string(state)};
    switch (s.state) {
      case BuilderState::kIdle:
        out.push_back(xmlrpc_c::value_string(""));
        break;
      case BuilderState::kBuilding:
        out.push_back(xmlrpc_c::value_string(s.build_id));
        out.push_back(bytes_value(s.logtail));
        break;
      case BuilderState::kWaiting:
        out.push_back(xmlrpc_c::value_string(wire_name(s.result)));
        out.push_back(xmlrpc_c::value_string(s.build_id));
        if (has_filemap(s.result)) {
          out.push_back(string_map_value(s.filemap));
          out.push_back(xmlrpc_c::value_string(s.dependencies));
        }
        break;
      case BuilderState::kAborting:
      case BuilderState::kAborted:
        out.push_back(xmlrpc_c::value_string(s.build_id));
        break;
    }
    if (faults.huge_xml) out.push_back(xmlrpc_c::value_string(padding));
    return xmlrpc_c::value_array(out);
  }

  std::map<std::string, xmlrpc_c::value> out;
  out.emplace("builder_status", xmlrpc_c::value_string(state));
  switch (s.state) {
    case BuilderState::kIdle:
      break;
    case BuilderState::kBuilding:
      out.emplace("build_id", xmlrpc_c::value_string(s.build_id));
      out.emplace("logtail", bytes_value(s.logtail));
      // With the readlog extension: where the tail ends in the log, so that
      // a master appends the new part of the tail to its copy of the log
      // without a readlog() call. Left out when the tail is not the log's.
      if (builder.options().readlog && !faults.oversized_tail && s.log_size <= INT32_MAX)
        out.emplace("log_size", xmlrpc_c::value_int(static_cast<int>(s.log_size)));
      break;
    case BuilderState::kAborting:
    case BuilderState::kAborted:
      out.emplace("build_id", xmlrpc_c::value_string(s.build_id));
      break;
    case BuilderState::kWaiting:
      out.emplace("build_status", xmlrpc_c::value_string(wire_name(s.result)));
      out.emplace("build_id", xmlrpc_c::value_string(s.build_id));
      if (has_filemap(s.result)) {
        out.emplace("filemap", string_map_value(s.filemap));
        out.emplace("dependencies", xmlrpc_c::value_string(s.dependencies));
      }
      break;
  }
  if (faults.huge_xml) out.emplace("padding", xmlrpc_c::value_string(padding));
  return xmlrpc_c::value_struct(out);
}

std::string build_id_param(const xmlrpc_c::value& value) {
  switch (value.type()) {
    case xmlrpc_c::value::TYPE_NIL:
      return {};
    case xmlrpc_c::value::TYPE_INT: {
      int id = xmlrpc_c::value_int(value);
      return id == 0 ? std::string() : std::to_string(id);
    }
    default:
      return xmlrpc_c::value_string(value);
  }
}

}  // namespace

RpcEndpoint::RpcEndpoint(Builder& builder, const BuilderFaults& faults, int index) {
  const bool modern = builder.options().protocol == Protocol::kModern;
  auto add = [&](const std::string& name, Handler handler) {
    registry_.addMethod(name,
                        xmlrpc_c::methodPtr(new LambdaMethod(name, index, std::move(handler))));
  };
  registry_.setDefaultMethod(xmlrpc_c::defaultMethodPtr(new UnknownProcedure));

  add("echo", [](const xmlrpc_c::paramList& params) -> xmlrpc_c::value {
    std::vector<xmlrpc_c::value> out;
    for (std::size_t i = 0; i < params.size(); ++i) out.push_back(params[i]);
    return xmlrpc_c::value_array(out);
  });

  add("info", [&builder](const xmlrpc_c::paramList& params) -> xmlrpc_c::value {
    expect_params(params, 0);
    std::vector<xmlrpc_c::value> types;
    for (const auto& type : builder.builder_types()) types.push_back(xmlrpc_c::value_string(type));
    return xmlrpc_c::value_array(std::vector<xmlrpc_c::value>{
        xmlrpc_c::value_string("1.0"), xmlrpc_c::value_string(builder.options().arch),
        xmlrpc_c::value_array(types)});
  });

  const BuilderFaults* faults_ptr = &faults;
  add("status", [&builder, faults_ptr](const xmlrpc_c::paramList& params) -> xmlrpc_c::value {
    expect_params(params, 0);
    return status_value(builder, *faults_ptr);
  });

  add("ensurepresent", [&builder, modern](const xmlrpc_c::paramList& params) -> xmlrpc_c::value {
    expect_params(params, modern ? 4 : 2);
    const std::string sha1 = xmlrpc_c::value_string(params[0]);
    std::optional<std::string> url;
    if (!is_nil(params[1])) url = xmlrpc_c::value_string(params[1]);
    std::string username = modern ? string_or_empty(params[2]) : std::string();
    std::string password = modern ? string_or_empty(params[3]) : std::string();
    EnsureResult result = builder.ensure_present(sha1, url, username, password);
    if (!modern) return xmlrpc_c::value_boolean(result.present);
    return xmlrpc_c::value_array(std::vector<xmlrpc_c::value>{
        xmlrpc_c::value_boolean(result.present), xmlrpc_c::value_string(result.info)});
  });

  add("build", [&builder, modern](const xmlrpc_c::paramList& params) -> xmlrpc_c::value {
    expect_params(params, 5);
    const std::string build_id = build_id_param(params[0]);
    const std::string type = xmlrpc_c::value_string(params[1]);
    const std::string chroot = xmlrpc_c::value_string(params[2]);
    std::map<std::string, std::string> filemap;
    for (const auto& [name, sha1] : xmlrpc_c::value_struct(params[3]).cvalue()) {
      filemap[name] = xmlrpc_c::value_string(sha1);
    }
    BuildArgs args;
    for (const auto& [key, value] : xmlrpc_c::value_struct(params[4]).cvalue()) {
      args.keys.insert(key);
      if (value.type() == xmlrpc_c::value::TYPE_STRING) {
        args.strings[key] = xmlrpc_c::value_string(value);
      }
    }
    BuildReply reply = builder.build(build_id, type, chroot, filemap, args);
    if (!modern && reply.status != "BuilderStatus.UNKNOWNSUM") {
      return xmlrpc_c::value_string(reply.status);
    }
    return xmlrpc_c::value_array(std::vector<xmlrpc_c::value>{xmlrpc_c::value_string(reply.status),
                                                              xmlrpc_c::value_string(reply.info)});
  });

  add("abort", [&builder](const xmlrpc_c::paramList& params) -> xmlrpc_c::value {
    expect_params(params, 0);
    return xmlrpc_c::value_string(builder.abort());
  });

  add("clean", [&builder](const xmlrpc_c::paramList& params) -> xmlrpc_c::value {
    expect_params(params, 0);
    return xmlrpc_c::value_string(builder.clean());
  });

  // An extension of this slave (launchpad-buildd has no such call, and
  // answers Fault 8001): readlog(offset, max_bytes) ->
  // {"data": base64 bytes of the log from offset, "size": the log's size}.
  // The master asks for it once in its probe, with (0, 0).
  if (builder.options().readlog) {
    add("readlog", [&builder](const xmlrpc_c::paramList& params) -> xmlrpc_c::value {
      expect_params(params, 2);
      const int offset = params.getInt(0);
      const int max_bytes = params.getInt(1);
      if (offset < 0 || max_bytes < 0) throw SlaveRefusal("readlog: negative offset or size");
      LogChunk chunk =
          builder.read_log(static_cast<std::uint64_t>(offset), static_cast<std::size_t>(max_bytes));
      std::map<std::string, xmlrpc_c::value> out;
      out.emplace("data", bytes_value(chunk.bytes));
      out.emplace("size", xmlrpc_c::value_int(static_cast<int>(
                              std::min<std::uint64_t>(chunk.log_size, INT32_MAX))));
      return xmlrpc_c::value_struct(out);
    });
  }

  if (modern) {
    // binarypackage's manager has no proxy attributes, and without a manager
    // there is nothing to ask: the real slave raises either way.
    add("proxy_info", [](const xmlrpc_c::paramList&) -> xmlrpc_c::value {
      throw std::runtime_error("no proxy info for binarypackage");
    });
  }
}

std::string RpcEndpoint::handle(const std::string& body) const {
  std::string response;
  registry_.processCall(body, &response);
  return response;
}

std::string RpcEndpoint::fault_response(int code, const std::string& text) {
  std::string response;
  xmlrpc_c::xml::generateResponse(xmlrpc_c::rpcOutcome(make_fault(code, text)), &response);
  return response;
}

}  // namespace buildd::slave

#include "reply.hpp"

#include <map>
#include <string>
#include <vector>

#include "buildd/digest.hpp"
#include "buildd/error.hpp"

namespace buildd::xmlrpc_slave {

namespace {

using xmlrpc_c::value;
using ValueMap = std::map<std::string, value>;

const char* type_word(const value& v) {
  switch (v.type()) {
    case value::TYPE_INT:
      return "an int";
    case value::TYPE_BOOLEAN:
      return "a boolean";
    case value::TYPE_DOUBLE:
      return "a double";
    case value::TYPE_DATETIME:
      return "a dateTime";
    case value::TYPE_STRING:
      return "a string";
    case value::TYPE_BYTESTRING:
      return "base64";
    case value::TYPE_ARRAY:
      return "an array";
    case value::TYPE_STRUCT:
      return "a struct";
    case value::TYPE_NIL:
      return "nil";
    case value::TYPE_I8:
      return "an i8";
    default:
      return "an unknown type";
  }
}

BuilderState builder_state_of(const std::string& text) {
  if (text == "BuilderStatus.IDLE") return BuilderState::kIdle;
  if (text == "BuilderStatus.BUILDING") return BuilderState::kBuilding;
  if (text == "BuilderStatus.WAITING") return BuilderState::kWaiting;
  if (text == "BuilderStatus.ABORTING") return BuilderState::kAborting;
  if (text == "BuilderStatus.ABORTED") return BuilderState::kAborted;
  return BuilderState::kUnknown;
}

BuildResult build_result_of(const std::string& text) {
  if (text == "BuildStatus.OK") return BuildResult::kOk;
  if (text == "BuildStatus.PACKAGEFAIL") return BuildResult::kPackageFail;
  if (text == "BuildStatus.DEPFAIL") return BuildResult::kDepFail;
  if (text == "BuildStatus.GIVENBACK") return BuildResult::kGivenBack;
  if (text == "BuildStatus.CHROOTFAIL") return BuildResult::kChrootFail;
  if (text == "BuildStatus.BUILDERFAIL") return BuildResult::kBuilderFail;
  if (text == "BuildStatus.ABORTED") return BuildResult::kAborted;
  return BuildResult::kUnknown;
}

BuildStartStatus start_status_of(const std::string& text) {
  if (text == "BuilderStatus.BUILDING") return BuildStartStatus::kBuilding;
  // The hyphenated spellings are the slave's before 2005-09.
  if (text == "BuilderStatus.UNKNOWNSUM" || text == "BuilderStatus.UNKNOWN-SUM") {
    return BuildStartStatus::kUnknownSum;
  }
  if (text == "BuilderStatus.UNKNOWNBUILDER" || text == "BuilderStatus.UNKNOWN-BUILDER") {
    return BuildStartStatus::kUnknownBuilder;
  }
  return BuildStartStatus::kOther;
}

// Shape checks of an untrusted reply. Each failure names builder, method and field.
class Reply {
 public:
  Reply(const std::string& builder, const char* method) : builder_(builder), method_(method) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCategory::kProtocol, "builder " + builder_ + ": " + method_ + "(): " + what);
  }
  [[noreturn]] void wrong(const std::string& field, const char* expected, const value& v) const {
    fail("'" + field + "' is not " + expected + " (got " + type_word(v) + ")");
  }

  std::string string(const value& v, const std::string& field) const {
    if (v.type() != value::TYPE_STRING) wrong(field, "a string", v);
    return static_cast<std::string>(xmlrpc_c::value_string(v));
  }
  // A string that may also come as nil (allowNone peers); nil reads as "".
  std::string string_or_nil(const value& v, const std::string& field) const {
    if (v.type() == value::TYPE_NIL) return {};
    return string(v, field);
  }
  bool boolean(const value& v, const std::string& field) const {
    if (v.type() != value::TYPE_BOOLEAN) wrong(field, "a boolean", v);
    return static_cast<bool>(xmlrpc_c::value_boolean(v));
  }
  std::vector<value> array(const value& v, const std::string& field) const {
    if (v.type() != value::TYPE_ARRAY) wrong(field, "an array", v);
    return xmlrpc_c::value_array(v).vectorValueValue();
  }
  ValueMap map(const value& v, const std::string& field) const {
    if (v.type() != value::TYPE_STRUCT) wrong(field, "a struct", v);
    return static_cast<ValueMap>(xmlrpc_c::value_struct(v));
  }
  // Raw bytes from base64 (modern) or a plain string (pre-v1.0 tails).
  std::string bytes(const value& v, const std::string& field) const {
    if (v.type() == value::TYPE_BYTESTRING) {
      const auto raw = xmlrpc_c::value_bytestring(v).vectorUcharValue();
      return std::string(raw.begin(), raw.end());
    }
    if (v.type() == value::TYPE_STRING) return string(v, field);
    wrong(field, "base64 or a string", v);
  }
  // A byte count: an int >= 0.
  std::uint64_t size(const value& v, const std::string& field) const {
    if (v.type() != value::TYPE_INT) wrong(field, "an int", v);
    const int n = xmlrpc_c::value_int(v);
    if (n < 0) fail("'" + field + "' is negative: " + std::to_string(n));
    return static_cast<std::uint64_t>(n);
  }
  std::map<std::string, std::string> filemap(const value& v, const std::string& field) const {
    std::map<std::string, std::string> out;
    for (const auto& [name, sha1_value] : map(v, field)) {
      const std::string sha1 = string(sha1_value, field + "[" + name + "]");
      if (!is_sha1_hex(sha1)) fail("'" + field + "[" + name + "]' is not a sha1");
      out.emplace(name, sha1);
    }
    return out;
  }

 private:
  const std::string& builder_;
  const char* method_;
};

void parse_modern(const Reply& reply, const ValueMap& fields, SlaveStatus& status) {
  const auto get = [&](const char* key) -> const value* {
    const auto it = fields.find(key);
    return it == fields.end() ? nullptr : &it->second;
  };
  const value* state = get("builder_status");
  if (state == nullptr) reply.fail("'builder_status' is missing");
  status.state_text = reply.string(*state, "builder_status");
  status.state = builder_state_of(status.state_text);
  const bool needs_id = status.state == BuilderState::kBuilding ||
                        status.state == BuilderState::kWaiting ||
                        status.state == BuilderState::kAborting;
  if (const value* id = get("build_id")) {
    status.build_id = reply.string(*id, "build_id");
  } else if (needs_id) {
    reply.fail("'build_id' is missing");
  }
  if (status.state == BuilderState::kBuilding) {
    if (const value* tail = get("logtail")) status.logtail = reply.bytes(*tail, "logtail");
    // buildd-slave's readlog extension: where the tail ends in the log.
    if (const value* size = get("log_size")) {
      status.log_size = reply.size(*size, "log_size");
      if (status.logtail.size() > *status.log_size)
        reply.fail("'logtail' is longer than 'log_size' (" + std::to_string(*status.log_size) +
                   ")");
    }
  }
  if (status.state == BuilderState::kWaiting) {
    const value* result = get("build_status");
    if (result == nullptr) reply.fail("'build_status' is missing");
    status.result_text = reply.string(*result, "build_status");
    status.result = build_result_of(status.result_text);
    if (const value* files = get("filemap")) status.filemap = reply.filemap(*files, "filemap");
    if (const value* deps = get("dependencies")) {
      status.dependencies = reply.string_or_nil(*deps, "dependencies");
    }
  }
  if (const value* version = get("builder_version")) {
    status.builder_version = reply.string(*version, "builder_version");
  }
}

void parse_legacy(const Reply& reply, const std::vector<value>& items, SlaveStatus& status) {
  status.legacy_array = true;
  if (items.empty()) reply.fail("empty array");
  status.state_text = reply.string(items[0], "result[0]");
  status.state = builder_state_of(status.state_text);
  const auto need = [&](size_t count) {
    if (items.size() < count) {
      reply.fail(status.state_text + " needs " + std::to_string(count) + " elements, got " +
                 std::to_string(items.size()));
    }
  };
  switch (status.state) {
    case BuilderState::kIdle:  // ('BuilderStatus.IDLE', '') or the 1-tuple
      break;
    case BuilderState::kBuilding:
      need(2);
      status.build_id = reply.string(items[1], "build_id");
      if (items.size() > 2) status.logtail = reply.bytes(items[2], "logtail");
      break;
    case BuilderState::kWaiting:
      need(3);
      status.result_text = reply.string(items[1], "build_status");
      status.result = build_result_of(status.result_text);
      status.build_id = reply.string(items[2], "build_id");
      if (items.size() > 3) status.filemap = reply.filemap(items[3], "filemap");
      if (items.size() > 4) status.dependencies = reply.string_or_nil(items[4], "dependencies");
      break;
    case BuilderState::kAborting:
    case BuilderState::kAborted:
      need(2);
      status.build_id = reply.string(items[1], "build_id");
      break;
    case BuilderState::kUnknown:
      break;
  }
}

}  // namespace

void refuse_unsafe_xml(const std::string& response_xml) {
  if (response_xml.find('\0') != std::string::npos) {
    throw Error(ErrorCategory::kProtocol,
                "reply has a NUL byte: it is not XML in UTF-8 (or is UTF-16, which slaves never "
                "send)");
  }
  if (response_xml.find("<!DOCTYPE") != std::string::npos ||
      response_xml.find("<!ENTITY") != std::string::npos) {
    throw Error(ErrorCategory::kProtocol,
                "reply carries a DOCTYPE or an entity declaration, which XML-RPC never needs");
  }
  if (response_xml.find("<i8") != std::string::npos ||
      response_xml.find("<ex:i8") != std::string::npos) {
    throw Error(ErrorCategory::kProtocol,
                "reply carries an <i8> element, which no field of the protocol is");
  }
}

value result_of(const xmlrpc_c::rpcOutcome& outcome, const std::string& where) {
  try {
    if (!outcome.succeeded()) {
      const xmlrpc_c::fault fault = outcome.getFault();
      throw FaultError(fault.getCode(), where + ": Fault " + std::to_string(fault.getCode()) +
                                            ": " + fault.getDescription());
    }
    return outcome.getResult();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& error) {
    throw Error(ErrorCategory::kProtocol, where + ": " + error.what());
  }
}

std::vector<std::string> decode_echo(const value& result, const std::string& builder) {
  const Reply reply(builder, "echo");
  std::vector<std::string> out;
  const auto items = reply.array(result, "result");
  for (size_t i = 0; i < items.size(); ++i) {
    out.push_back(reply.string(items[i], "result[" + std::to_string(i) + "]"));
  }
  return out;
}

SlaveInfo decode_info(const value& result, const std::string& builder) {
  const Reply reply(builder, "info");
  const auto items = reply.array(result, "result");
  if (items.size() != 3) reply.fail("expected 3 elements, got " + std::to_string(items.size()));
  SlaveInfo info;
  info.protocol_version = reply.string(items[0], "protocol_version");
  info.arch_tag = reply.string(items[1], "arch_tag");
  const auto types = reply.array(items[2], "builder_types");
  for (size_t i = 0; i < types.size(); ++i) {
    info.builder_types.push_back(
        reply.string(types[i], "builder_types[" + std::to_string(i) + "]"));
  }
  return info;
}

SlaveStatus decode_status(const value& result, const std::string& builder,
                          std::uint64_t max_logtail_bytes) {
  const Reply reply(builder, "status");
  SlaveStatus status;
  if (result.type() == value::TYPE_STRUCT) {
    parse_modern(reply, reply.map(result, "result"), status);
  } else if (result.type() == value::TYPE_ARRAY) {
    parse_legacy(reply, reply.array(result, "result"), status);
  } else {
    reply.wrong("result", "a struct or an array", result);
  }
  if (status.logtail.size() > max_logtail_bytes) {
    status.logtail.erase(0, status.logtail.size() - max_logtail_bytes);
  }
  return status;
}

EnsurePresentResult decode_ensure_present(const value& result, const std::string& builder) {
  const Reply reply(builder, "ensurepresent");
  EnsurePresentResult out;
  if (result.type() == value::TYPE_BOOLEAN) {  // 2005: a bare bool
    out.present = reply.boolean(result, "result");
    return out;
  }
  const auto items = reply.array(result, "result");
  if (items.size() != 2) reply.fail("expected 2 elements, got " + std::to_string(items.size()));
  out.present = reply.boolean(items[0], "present");
  out.info = reply.string_or_nil(items[1], "info");
  return out;
}

BuildStartResult decode_build_start(const value& result, const std::string& builder) {
  const Reply reply(builder, "build");
  BuildStartResult out;
  if (result.type() == value::TYPE_STRING) {  // 2005: a bare state string
    out.status_text = reply.string(result, "result");
  } else {
    const auto items = reply.array(result, "result");
    if (items.size() != 2) reply.fail("expected 2 elements, got " + std::to_string(items.size()));
    out.status_text = reply.string(items[0], "status");
    out.info = reply.string_or_nil(items[1], "info");
  }
  out.status = start_status_of(out.status_text);
  return out;
}

LogRead decode_readlog(const value& result, const std::string& builder) {
  const Reply reply(builder, "readlog");
  const ValueMap fields = reply.map(result, "result");
  const auto data = fields.find("data");
  const auto size = fields.find("size");
  if (data == fields.end()) reply.fail("'data' is missing");
  if (size == fields.end()) reply.fail("'size' is missing");
  if (data->second.type() != value::TYPE_BYTESTRING) reply.wrong("data", "base64", data->second);
  LogRead read;
  read.bytes = reply.bytes(data->second, "data");
  read.log_size = reply.size(size->second, "size");
  return read;
}

std::string decode_text(const value& result, const std::string& builder, const char* method) {
  return Reply(builder, method).string(result, "result");
}

}  // namespace buildd::xmlrpc_slave

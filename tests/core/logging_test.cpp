// Logging as an operator's tools see it: JSON lines that parse whatever a
// slave put in a message, UTC text lines, and a file that follows logrotate.

#include "buildd/logging.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "buildd/error.hpp"
#include "support/test_support.hpp"

namespace buildd {
namespace {

std::vector<std::string> lines_of(const std::filesystem::path& file) {
  std::istringstream in(test::read_file(file));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(Logging, JsonLinesTextLinesAndReopenAfterLogrotate) {
  test::TempDir dir;
  const auto file = dir / "master.log";
  set_stderr_log_level("off");  // keep the test's output readable
  log_to_file(file.string());
  set_log_format("json");
  // Quotes, a newline, a control character and bytes that are not UTF-8,
  // as a hostile slave's state text could hold.
  logger("scan")->warn("bob: slave said \"{}\"", std::string("evil\n\x01text\xff", 11));

  auto lines = lines_of(file);
  ASSERT_EQ(lines.size(), 1u);
  const auto line = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(line["level"], "warning");
  EXPECT_EQ(line["logger"], "scan");
  EXPECT_EQ(line["message"].get<std::string>().rfind("bob: slave said \"evil\n\x01text", 0), 0u)
      << line["message"];
  EXPECT_TRUE(std::regex_match(line["time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << line["time"];

  // logrotate moves the file, then sends SIGHUP: the next line goes to a new
  // file by the old name, the moved one keeps what it had.
  std::filesystem::rename(file, dir / "master.log.1");
  reopen_log_files();
  set_log_format("text");
  logger("scan")->info("after the rotation");
  EXPECT_EQ(lines_of(dir / "master.log.1").size(), 1u);
  lines = lines_of(file);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      lines[0],
      std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info  \[scan\] after the rotation)")))
      << lines[0];

  EXPECT_THROW(set_log_format("xml"), Error);
  test::write_file(dir / "a-file", "");
  EXPECT_THROW(log_to_file((dir / "a-file" / "x.log").string()), Error);
}

}  // namespace
}  // namespace buildd

// buildd-master(1) and the bash completion script are generated from the
// command table: every command is in both, the man page's usage line of each
// command is its --help's, the completion completes commands and options in
// a real bash, and the files the build installs are what the program prints.
#include <gtest/gtest.h>

#include <sstream>

#include "command.hpp"
#include "command_line.hpp"
#include "support/test_support.hpp"

namespace buildd::test {
namespace {

using cli::Command;
using cli::command_table;
using cli::joined;

CommandResult master(const std::vector<std::string>& args) {
  return run_command(executable("buildd-master"), args);
}

// A groff text line as man shows it: font changes dropped, escapes decoded.
std::string unroff(std::string line) {
  const std::pair<std::string, std::string> escapes[] = {{"\\fB", ""},
                                                         {"\\fI", ""},
                                                         {"\\fR", ""},
                                                         {"\\-", "-"},
                                                         {"\\&", ""},
                                                         {"\\e", "\\"},
                                                         {"\\[u2026]", "\xE2\x80\xA6"}};
  for (const auto& [from, to] : escapes)
    for (std::size_t at = line.find(from); at != std::string::npos; at = line.find(from, at))
      line.replace(at, from.size(), to), at += to.size();
  return line;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(Docs, EveryCommandIsInTheManPageWithItsHelpUsageLine) {
  CommandResult man = master({"manpage"});
  ASSERT_EQ(man.exit_code, 0) << man.err;
  const std::vector<std::string> lines = lines_of(man.out);
  ASSERT_GT(command_table().size(), 20u);
  for (const Command& c : command_table()) {
    const std::string name = joined(c.words);
    std::vector<std::string> help_args = c.words;
    help_args.push_back("--help");
    CommandResult help = master(help_args);
    ASSERT_EQ(help.exit_code, 0) << name << ": " << help.err;
    const std::string usage = lines_of(help.out).at(0);
    ASSERT_EQ(usage.rfind("Usage: ", 0), 0u) << usage;

    auto section = std::find(lines.begin(), lines.end(), ".SS " + name);
    ASSERT_NE(section, lines.end()) << "no .SS for '" << name << "' in the man page";
    ASSERT_NE(section + 1, lines.end());
    EXPECT_EQ("Usage: " + unroff(*(section + 1)), usage) << name;
    // The summary follows, as --help's second line says it.
    const std::string summary = lines_of(help.out).at(1);
    EXPECT_NE(man.out.find(".PP\n" + summary.substr(0, 20)), std::string::npos) << name;
  }
  EXPECT_EQ(man.out.rfind(".\\\"", 0), 0u);  // a comment, then .TH
  EXPECT_NE(man.out.find("\n.TH BUILDD-MASTER 1 "), std::string::npos);
}

TEST(Docs, ManPageListsEachCommandsOptionsButNotItsPositionals) {
  CommandResult man = master({"manpage"});
  ASSERT_EQ(man.exit_code, 0) << man.err;
  const std::string builder_add = man.out.substr(man.out.find(".SS builder add\n"));
  const std::string entry = builder_add.substr(0, builder_add.find(".SS ", 4));
  EXPECT_NE(entry.find("\\fB\\-\\-processor\\fR \\fIVALUE\\fR"), std::string::npos) << entry;
  EXPECT_EQ(entry.find("\\-\\-name"), std::string::npos) << entry;  // NAME is positional
  // Global options once, with their descriptions.
  EXPECT_NE(man.out.find("\\fB\\-c\\fR, \\fB\\-\\-config\\fR \\fIVALUE\\fR"), std::string::npos);
}

// Runs the completion function of `script` for each line of words (the last
// word is the one being completed) and returns COMPREPLY of each, sorted.
std::vector<std::string> complete(const std::string& script,
                                  const std::vector<std::vector<std::string>>& cases) {
  TempDir dir;
  std::string driver = "source " + (dir / "completion").string() + "\n";
  for (const auto& words : cases) {
    driver += "COMP_WORDS=(";
    for (const auto& w : words) driver += "'" + w + "' ";
    driver += "); COMP_CWORD=" + std::to_string(words.size() - 1) +
              "; _buildd_master; printf '%s\\n' \"$(printf '%s\\n' \"${COMPREPLY[@]}\" | sort | "
              "tr '\\n' ' ')\"\n";
  }
  write_file(dir / "completion", script);
  write_file(dir / "driver", driver);
  CommandResult r = run_command("/bin/bash", {(dir / "driver").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  std::vector<std::string> out = lines_of(r.out);
  out.resize(cases.size());
  return out;
}

TEST(Docs, BashCompletionCompletesEveryCommandAndItsOptions) {
  CommandResult script = master({"completion", "bash"});
  ASSERT_EQ(script.exit_code, 0) << script.err;
  std::vector<std::vector<std::string>> cases;
  std::vector<std::string> expected;
  for (const Command& c : command_table()) {
    // Each word of the command, typed up to the cursor after the words before it
    // (and after a global option with its value, which is skipped).
    for (std::size_t i = 0; i < c.words.size(); ++i) {
      std::vector<std::string> words = {"buildd-master", "--config", "x.yaml"};
      words.insert(words.end(), c.words.begin(), c.words.begin() + static_cast<long>(i));
      words.push_back(c.words[i]);
      cases.push_back(words);
      expected.push_back(c.words[i]);
    }
    // Its options after the whole command.
    std::vector<std::string> words = {"buildd-master"};
    words.insert(words.end(), c.words.begin(), c.words.end());
    words.push_back("--");
    cases.push_back(words);
    expected.push_back("--help");
  }
  const std::vector<std::string> got = complete(script.out, cases);
  for (std::size_t i = 0; i < cases.size(); ++i)
    EXPECT_NE((" " + got[i]).find(" " + expected[i] + " "), std::string::npos)
        << joined(cases[i]) << " -> '" << got[i] << "', expected " << expected[i];

  const std::vector<std::string> specific =
      complete(script.out, {{"buildd-master", "buil"},
                            {"buildd-master", "builder", "add", "bob", "http://x/", "--pro"},
                            {"buildd-master", "build", "list", "--format", ""},
                            {"buildd-master", "--log-level", "w"},
                            {"buildd-master", "--"}});
  EXPECT_EQ(specific[0], "build builder ");
  EXPECT_EQ(specific[1], "--processor ");
  EXPECT_EQ(specific[2], "json text ");
  EXPECT_EQ(specific[3], "warn ");
  EXPECT_EQ(specific[4], "--config --help --log-level --version ");
}

TEST(Docs, BuildWritesWhatTheProgramPrints) {
  EXPECT_EQ(read_file(binary_dir() / "share/man/man1/buildd-master.1"), master({"manpage"}).out);
  EXPECT_EQ(read_file(binary_dir() / "share/bash-completion/completions/buildd-master"),
            master({"completion", "bash"}).out);
  EXPECT_TRUE(std::filesystem::exists(binary_dir() / "share/man/man1/buildd-master.1.gz"));
  EXPECT_TRUE(std::filesystem::exists(binary_dir() / "share/man/man1/buildd-slave.1.gz"));
}

}  // namespace
}  // namespace buildd::test

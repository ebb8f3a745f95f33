#pragma once

// The command table of buildd-master. Every command is one row in
// command_table.cpp (the one place that lists them); its implementation lives
// in the commands_<group>.cpp file of its group.
//
// A command declares its options and positionals with Boost.Program_options
// and runs with a CommandContext that creates plugins lazily (a command that
// needs only the store never loads the transport). It returns the exit code;
// errors are thrown as buildd::Error and turned into a message on stderr and
// exit_code_for(error) (2 for bad input) by main.

#include <boost/program_options.hpp>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "buildd/build_store.hpp"
#include "buildd/config.hpp"
#include "buildd/librarian.hpp"
#include "buildd/log_archive.hpp"
#include "buildd/plugin_loader.hpp"
#include "buildd/scheduler.hpp"
#include "buildd/slave_transport.hpp"

namespace buildd::cli {

namespace po = boost::program_options;

enum class OutputFormat { kText, kJson };

class CommandContext {
 public:
  CommandContext(std::filesystem::path config_file, std::ostream& out, std::ostream& err);
  ~CommandContext();

  const std::filesystem::path& config_file() const { return config_file_; }
  const Config& config();  // loaded on first use
  const PluginLoader& loader();
  BuildStore& store();  // created on first use (does not upgrade the schema)
  LogArchive& archive();
  SlaveTransport& transport();
  // The `scheduler:` section's plugin, or the default scheduler.
  std::shared_ptr<const Scheduler> scheduler();
  Librarian& librarian();  // store + archive, temp dir under master.work_dir

  std::ostream& out;
  std::ostream& err;

 private:
  std::filesystem::path config_file_;
  std::unique_ptr<Config> config_;
  std::unique_ptr<PluginLoader> loader_;
  std::shared_ptr<BuildStore> store_;
  std::shared_ptr<LogArchive> archive_;
  std::shared_ptr<SlaveTransport> transport_;
  std::shared_ptr<const Scheduler> scheduler_;
  std::unique_ptr<Librarian> librarian_;
};

struct Command {
  std::vector<std::string> words;  // {"builder", "add"}
  std::string synopsis;            // "NAME URL --processor P [--manual] [--virtualized]"
  std::string summary;             // one line for --help
  // Declares options and positionals (may be empty).
  std::function<void(po::options_description&, po::positional_options_description&)> declare;
  std::function<int(CommandContext&, const po::variables_map&)> run;
};

const std::vector<Command>& command_table();

// The URL slaves use to reach the embedded HTTP server: master.public_url, or
// http://<master.http_listen>.
std::string files_base_url(const PluginConfig& master);

// Adds "--format text|json" to a command's options; read it back with
// output_format(vm).
void add_format_option(po::options_description& options);
OutputFormat output_format(const po::variables_map& vm);

// Prints rows as an aligned text table with a header line.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

}  // namespace buildd::cli

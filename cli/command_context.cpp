#include <iomanip>
#include <iostream>

#include "buildd/error.hpp"
#include "command.hpp"

namespace buildd::cli {

CommandContext::CommandContext(std::filesystem::path config_file, std::ostream& out_stream,
                               std::ostream& err_stream)
    : out(out_stream), err(err_stream), config_file_(std::move(config_file)) {}

// Objects go before the loader's libraries would: the librarian uses the
// store and archive, which hold their libraries alive themselves.
CommandContext::~CommandContext() {
  librarian_.reset();
  scheduler_.reset();
  transport_.reset();
  archive_.reset();
  store_.reset();
}

const Config& CommandContext::config() {
  if (!config_) config_ = std::make_unique<Config>(Config::load(config_file_));
  return *config_;
}

const PluginLoader& CommandContext::loader() {
  if (!loader_) {
    const PluginConfig& master = config().master();
    loader_ = master.has("plugin_dir")
                  ? std::make_unique<PluginLoader>(master.get_path("plugin_dir"))
                  : std::make_unique<PluginLoader>();
  }
  return *loader_;
}

BuildStore& CommandContext::store() {
  if (!store_) store_ = loader().create_store(config());
  return *store_;
}

LogArchive& CommandContext::archive() {
  if (!archive_) archive_ = loader().create_archive(config());
  return *archive_;
}

SlaveTransport& CommandContext::transport() {
  if (!transport_) transport_ = loader().create_transport(config());
  return *transport_;
}

std::shared_ptr<const Scheduler> CommandContext::scheduler() {
  if (!scheduler_) scheduler_ = loader().create_scheduler(config());
  return scheduler_;
}

std::string files_base_url(const PluginConfig& master) {
  if (master.has("public_url")) return master.get_string("public_url");
  return "http://" + master.get_string("http_listen");
}

Librarian& CommandContext::librarian() {
  if (!librarian_) {
    const PluginConfig& master = config().master();
    librarian_ = std::make_unique<Librarian>(
        store(), archive(), master.get_path("work_dir") / "tmp", files_base_url(master));
  }
  return *librarian_;
}

void add_format_option(po::options_description& options) {
  options.add_options()("format", po::value<std::string>()->default_value("text"),
                        "output format: text (a table) or json");
}

OutputFormat output_format(const po::variables_map& vm) {
  const std::string format = vm["format"].as<std::string>();
  if (format == "text") return OutputFormat::kText;
  if (format == "json") return OutputFormat::kJson;
  throw Error(ErrorCategory::kUsage, "--format must be text or json, not '" + format + "'");
}

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      if (i + 1 == widths.size())
        out << cell;
      else
        out << std::left << std::setw(static_cast<int>(widths[i])) << cell << "  ";
    }
    out << '\n';
  };
  line(header);
  std::vector<std::string> rule;
  for (auto w : widths) rule.emplace_back(w, '-');
  line(rule);
  for (const auto& row : rows) line(row);
}

}  // namespace buildd::cli

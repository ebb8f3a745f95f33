#pragma once

// What `scan-once`, `run` and `demo` share: the three plugins, the librarian,
// the embedded HTTP server (slaves download chroots and sources from it when
// the archive has no URL of its own) and the pipeline, wired from the config.

#include <memory>

#include "buildd/clock.hpp"
#include "buildd/http_server.hpp"
#include "buildd/pipeline/master.hpp"
#include "command.hpp"

namespace buildd::cli {

// The master: section of the config as pipeline settings.
MasterSettings master_settings_from(const PluginConfig& master);

class MasterRuntime {
 public:
  // Creates the plugins (upgrading the schema when asked), starts the HTTP
  // server and builds the pipeline. Throws buildd::Error.
  explicit MasterRuntime(CommandContext& context, bool upgrade_schema = false);
  ~MasterRuntime();

  BuilddMaster& master() { return *master_; }
  HttpServer& http() { return *http_; }
  BuildStore& store() { return context_.store(); }
  // One scan → update → dispatch cycle (the pipeline logs it).
  CycleReport cycle();
  // Rebuilds the pipeline with new settings (SIGHUP).
  void apply_settings(const MasterSettings& settings);

 private:
  CommandContext& context_;
  SystemTimeSource time_;
  // Outlives the masters that apply_settings() replaces: a builder's silence
  // is remembered across a config reload.
  std::shared_ptr<BuilderAnswers> answers_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<BuilddMaster> master_;
};

// Path of the daemon's pid file (under master.work_dir); CLI commands that
// change the queue signal the daemon through it so that it wakes at once.
std::filesystem::path pid_file(const PluginConfig& master);
// Sends SIGUSR1 to a running daemon of this config, if any. Never throws.
void wake_daemon(CommandContext& context);

}  // namespace buildd::cli

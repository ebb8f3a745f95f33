#pragma once

#include "command.hpp"

namespace buildd::cli {

// scan-once, run, demo.
void add_run_commands(std::vector<Command>& table);

// The demo (demo.cpp).
int run_demo(CommandContext& context, const po::variables_map& vm);
void declare_demo_options(po::options_description& options, po::positional_options_description&);

}  // namespace buildd::cli

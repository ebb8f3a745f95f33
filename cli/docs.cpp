#include "docs.hpp"

#include <iostream>
#include <limits>
#include <set>
#include <sstream>

#include "command_line.hpp"
#include "version.hpp"

namespace buildd::cli {

const char* const kProgramDescription =
    "the master of a build farm. It keeps builds in a SQL database,\n"
    "talks to build slaves (launchpad-buildd) over XML-RPC, collects their logs and\n"
    "results into the librarian and dispatches queued builds to idle builders.";

namespace {

// Text for a groff line: backslashes, hyphens (so that they render and search
// as ASCII hyphen-minus) and the ellipsis of the synopses escaped.
std::string roff(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else if (text.compare(i, 3, "\xE2\x80\xA6") == 0) {  // U+2026
      out += "\\[u2026]";
      i += 2;
    } else {
      out += c;
    }
  }
  // A line starting with . or ' would be read as a request.
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

// Every line of `text` as groff text.
std::string roff_lines(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) out += roff(line) + '\n';
  return out;
}

// The options a command's --help lists, as main builds them, and the names of
// those that take its positional arguments (already in the synopsis).
struct DeclaredOptions {
  po::options_description options;
  std::set<std::string> positional;  // "name", "url"
};

DeclaredOptions command_options(const Command& command) {
  DeclaredOptions d;
  po::positional_options_description positionals;
  d.options.add_options()("help,h", "show this help");
  if (command.declare) command.declare(d.options, positionals);
  const unsigned count = positionals.max_total_count();
  // An unlimited last positional (--file PATH…) is named once.
  const unsigned named = count == std::numeric_limits<unsigned>::max() ? 0 : count;
  for (unsigned i = 0; i < named; ++i) d.positional.insert(positionals.name_for_position(i));
  if (named == 0 && count > 0) d.positional.insert(positionals.name_for_position(0));
  return d;
}

struct OptionNames {
  std::string short_name;  // "-h", or empty
  std::vector<std::string> long_names;
  bool takes_value = false;
};

OptionNames names_of(const po::option_description& o) {
  OptionNames n;
  const std::string short_name =
      o.canonical_display_name(po::command_line_style::allow_dash_for_short);
  if (short_name.size() == 2 && short_name[0] == '-' && short_name[1] != '-')
    n.short_name = short_name;
  const auto [names, count] = o.long_names();
  for (std::size_t i = 0; i < count; ++i) n.long_names.push_back("--" + names[i]);
  n.takes_value = o.semantic()->max_tokens() > 0;
  return n;
}

// ".TP" item of one option; the default value is shown when `with_default`
// (the global --config's default depends on the environment).
void write_option_item(std::ostream& out, const po::option_description& o, bool with_default) {
  const OptionNames n = names_of(o);
  std::string head;
  if (!n.short_name.empty()) head += "\\fB" + roff(n.short_name) + "\\fR";
  for (const auto& l : n.long_names)
    head += (head.empty() ? "" : ", ") + ("\\fB" + roff(l) + "\\fR");
  if (n.takes_value) {
    head += " \\fIVALUE\\fR";
    const std::string parameter = o.format_parameter();  // "arg (=text)"
    const std::size_t open = parameter.find(" (=");
    if (with_default && open != std::string::npos) head += roff(parameter.substr(open));
  }
  out << ".TP\n" << head << '\n' << roff_lines(o.description());
}

}  // namespace

std::string usage_line(const Command& command) {
  return "buildd-master " + joined(command.words) +
         (command.synopsis.empty() ? "" : " " + command.synopsis);
}

void write_man_page(std::ostream& out) {
  out << ".\\\" buildd-master(1), generated from the command table by `buildd-master manpage`.\n"
      << ".TH BUILDD-MASTER 1 \"\" \"buildd-master " << kVersion << "\" \"User Commands\"\n"
      << ".SH NAME\nbuildd-master \\- the master of a build farm\n"
      << ".SH SYNOPSIS\n"
      << ".B buildd-master\n"
         "[\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fB\\-\\-log\\-level\\fR \\fILEVEL\\fR] "
         "\\fICOMMAND\\fR [\\fIARGS\\fR\\[u2026]]\n"
         ".br\n.B buildd-master\n\\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR\n"
      << ".SH DESCRIPTION\n"
      << "\\fBbuildd\\-master\\fR is " << roff_lines(kProgramDescription)
      << ".PP\nThe first word that is not an option starts the command; "
         "\\fBbuildd\\-master\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR prints a command's options.\n"
      << ".SH OPTIONS\n";
  const po::options_description global = global_options();
  for (const auto& o : global.options()) write_option_item(out, *o, false);
  out << ".SH COMMANDS\n";
  for (const Command& c : command_table()) {
    // The line after .SS is the command's usage line, as its --help prints it.
    out << ".SS " << joined(c.words) << '\n'
        << "\\fBbuildd\\-master " << roff(joined(c.words)) << "\\fR"
        << (c.synopsis.empty() ? "" : " " + roff(c.synopsis)) << '\n'
        << ".PP\n"
        << roff_lines(c.summary);
    const DeclaredOptions declared = command_options(c);
    for (const auto& o : declared.options.options())
      if (o->long_name() != "help" && !declared.positional.contains(o->long_name()))
        write_option_item(out, *o, true);
  }
  out << ".SH FILES\n"
         ".TP\n/etc/buildd\\-master/buildd\\-master.yaml\n"
         "the config file when neither \\fB\\-\\-config\\fR nor \\fBBUILDD_MASTER_CONFIG\\fR is "
         "given; \\fBbuildd\\-master plugins list \\-\\-verbose\\fR lists every key\n"
         ".TP\n/var/lib/buildd\\-master\n"
         "the state directory of the packaged service (\\fBmaster.work_dir\\fR)\n"
         ".SH ENVIRONMENT\n"
         ".TP\n.B BUILDD_MASTER_CONFIG\n"
         "the config file when \\fB\\-\\-config\\fR is not given\n"
         ".SH EXIT STATUS\n"
         "0 on success; 2 for bad input (a usage error, a bad config, an unknown name, a "
         "conflict), which changes nothing; 1 for any other failure.\n"
         ".SH SEE ALSO\n"
         ".BR buildd\\-slave (1)\n";
}

void write_bash_completion(std::ostream& out) {
  std::set<std::string> valued = {"--config", "-c", "--log-level"};
  std::ostringstream commands, options;
  for (const Command& c : command_table()) {
    const std::string name = joined(c.words);
    commands << "    \"" << name << "\"\n";
    std::string names;
    const DeclaredOptions declared = command_options(c);
    for (const auto& o : declared.options.options()) {
      if (declared.positional.contains(o->long_name())) continue;
      const OptionNames n = names_of(*o);
      for (const auto& l : n.long_names) {
        names += (names.empty() ? "" : " ") + l;
        if (n.takes_value) valued.insert(l);
      }
      if (!n.short_name.empty()) {
        names += " " + n.short_name;
        if (n.takes_value) valued.insert(n.short_name);
      }
    }
    options << "    [\"" << name << "\"]=\"" << names << "\"\n";
  }
  std::string valued_words = " ";
  for (const auto& v : valued) valued_words += v + " ";

  out << "# bash completion for buildd-master, generated from its command table by\n"
         "# `buildd-master completion bash`.\n"
         "_buildd_master() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
         "  local commands=(\n"
      << commands.str()
      << "  )\n"
         "  local -A options=(\n"
      << options.str()
      << "  )\n"
         "  local valued=\""
      << valued_words
      << "\"\n"
         "  COMPREPLY=()\n"
         "  case $prev in\n"
         "    --format) COMPREPLY=($(compgen -W \"text json\" -- \"$cur\")); return ;;\n"
         "    --log-level) COMPREPLY=($(compgen -W \"trace debug info warn error critical off\" "
         "-- \"$cur\")); return ;;\n"
         "  esac\n"
         "  if [[ $valued == *\" $prev \"* ]]; then\n"
         "    COMPREPLY=($(compgen -f -- \"$cur\")); return\n"
         "  fi\n"
         "  # The command typed so far: the bare words before the cursor, options and\n"
         "  # their values skipped, up to a whole command (then come its arguments).\n"
         "  local command=\"\" word i\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    word=${COMP_WORDS[i]}\n"
         "    if [[ $word == -* ]]; then\n"
         "      [[ $valued == *\" $word \"* ]] && ((i++))\n"
         "      continue\n"
         "    fi\n"
         "    [[ -n $command && -n ${options[$command]+x} ]] && break\n"
         "    command=${command:+$command }$word\n"
         "  done\n"
         "  if [[ -n $command && -n ${options[$command]+x} ]]; then\n"
         "    if [[ $cur == -* ]]; then\n"
         "      COMPREPLY=($(compgen -W \"${options[$command]}\" -- \"$cur\"))\n"
         "    else\n"
         "      COMPREPLY=($(compgen -f -- \"$cur\"))\n"
         "    fi\n"
         "    return\n"
         "  fi\n"
         "  if [[ -z $command && $cur == -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"--help -h --version --config -c --log-level\" -- "
         "\"$cur\"))\n"
         "    return\n"
         "  fi\n"
         "  local -A next=()\n"
         "  local c\n"
         "  for c in \"${commands[@]}\"; do\n"
         "    if [[ -z $command ]]; then\n"
         "      next[${c%% *}]=1\n"
         "    elif [[ $c == \"$command \"* ]]; then\n"
         "      c=${c#\"$command \"}\n"
         "      next[${c%% *}]=1\n"
         "    fi\n"
         "  done\n"
         "  COMPREPLY=($(compgen -W \"${!next[*]}\" -- \"$cur\"))\n"
         "}\n"
         "complete -F _buildd_master buildd-master\n";
}

void add_docs_commands(std::vector<Command>& table) {
  table.push_back({{"completion", "bash"},
                   "",
                   "print the bash completion script (installed as "
                   "/usr/share/bash-completion/completions/buildd-master; or source it)",
                   nullptr,
                   [](CommandContext& ctx, const po::variables_map&) {
                     write_bash_completion(ctx.out);
                     return 0;
                   }});
  table.push_back({{"manpage"},
                   "",
                   "print this manual, buildd-master(1), in groff (man -l - shows it)",
                   nullptr,
                   [](CommandContext& ctx, const po::variables_map&) {
                     write_man_page(ctx.out);
                     return 0;
                   }});
}

}  // namespace buildd::cli

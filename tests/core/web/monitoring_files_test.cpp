// The example alert rules and Grafana dashboard in etc/ name only metrics the
// master describes (describe_farm_metrics), so that a renamed metric cannot
// leave them silently empty. promtool checks their syntax and behaviour (see
// CMakeLists.txt); this checks the names.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "buildd/web/metrics.hpp"

namespace buildd {
namespace {

const std::string kEtc = BUILDD_SOURCE_DIR "/etc";

// Metric names in a PromQL expression: identifiers of this program's
// namespace, with a histogram's series suffix taken off.
std::set<std::string> metric_names(const std::string& expr) {
  static const std::regex kName(R"(\bbuildd_[a-zA-Z0-9_:]*)");
  std::set<std::string> out;
  for (std::sregex_iterator it(expr.begin(), expr.end(), kName), end; it != end; ++it)
    out.insert(it->str());
  return out;
}

// The names describe_farm_metrics() gives, with the series a histogram adds.
std::set<std::string> described() {
  Metrics m;
  describe_farm_metrics(m);
  std::set<std::string> out;
  static const std::regex kType(R"(# TYPE (\S+) (\S+))");
  const std::string text = m.render();
  for (std::sregex_iterator it(text.begin(), text.end(), kType), end; it != end; ++it) {
    const std::string name = (*it)[1];
    out.insert(name);
    if ((*it)[2] == "histogram")
      for (const char* suffix : {"_bucket", "_sum", "_count"}) out.insert(name + suffix);
  }
  return out;
}

std::vector<std::string> rule_exprs() {
  std::vector<std::string> out;
  YAML::Node doc = YAML::LoadFile(kEtc + "/prometheus/buildd-master-alerts.yaml");
  for (const auto& group : doc["groups"])
    for (const auto& rule : group["rules"]) out.push_back(rule["expr"].as<std::string>());
  return out;
}

void collect_exprs(const nlohmann::json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if ((key == "expr" || key == "query" || key == "definition") && value.is_string())
        out.push_back(value.get<std::string>());
      else
        collect_exprs(value, out);
    }
  } else if (j.is_array()) {
    for (const auto& value : j) collect_exprs(value, out);
  }
}

std::vector<std::string> dashboard_exprs() {
  std::ifstream in(kEtc + "/grafana/buildd-master-dashboard.json");
  nlohmann::json dashboard = nlohmann::json::parse(in);
  std::vector<std::string> out;
  collect_exprs(dashboard, out);
  return out;
}

TEST(MonitoringFiles, AlertRulesUseOnlyDescribedMetrics) {
  const auto known = described();
  const auto exprs = rule_exprs();
  ASSERT_GE(exprs.size(), 7u);
  std::set<std::string> used;
  for (const auto& e : exprs)
    for (const auto& name : metric_names(e)) {
      used.insert(name);
      EXPECT_EQ(known.count(name), 1u) << name << " in the alert rule: " << e;
    }
  for (const char* name : {kMetricBuilderLastAnswerAge, kMetricQueueOldest, kMetricBuilders,
                           kMetricQueueDepth, kMetricStoreOutages, kMetricInternalErrors})
    EXPECT_EQ(used.count(name), 1u) << name << " has no alert";
}

TEST(MonitoringFiles, DashboardUsesOnlyDescribedMetricsAndAPrometheusVariable) {
  const auto known = described();
  const auto exprs = dashboard_exprs();
  ASSERT_GE(exprs.size(), 10u);
  std::set<std::string> used;
  for (const auto& e : exprs)
    for (const auto& name : metric_names(e)) {
      used.insert(name);
      EXPECT_EQ(known.count(name), 1u) << name << " in the dashboard query: " << e;
    }
  for (const char* name :
       {kMetricQueueDepth, kMetricQueueOldest, kMetricBuilders, kMetricBuilderLastAnswerAge,
        kMetricStoreOutages, kMetricSlaveErrors, kMetricBuildsFinished, kMetricBuildInfo})
    EXPECT_EQ(used.count(name), 1u) << name << " has no panel";
  EXPECT_EQ(used.count(std::string(kMetricCycleDuration) + "_bucket"), 1u);
  EXPECT_EQ(used.count(std::string(kMetricDispatchLatency) + "_bucket"), 1u);

  std::ifstream in(kEtc + "/grafana/buildd-master-dashboard.json");
  nlohmann::json dashboard = nlohmann::json::parse(in);
  EXPECT_GE(dashboard["schemaVersion"].get<int>(), 36);
  bool datasource_variable = false;
  for (const auto& v : dashboard["templating"]["list"])
    datasource_variable |= v["type"] == "datasource" && v["query"] == "prometheus";
  EXPECT_TRUE(datasource_variable);
  for (const auto& panel : dashboard["panels"])
    EXPECT_EQ(panel["datasource"]["uid"], "${datasource}") << panel["title"];
}

// The extraction itself: a misspelt name is caught.
TEST(MonitoringFiles, AMisspeltMetricIsNotDescribed) {
  const auto names = metric_names("rate(buildd_slave_call_error_total[5m]) > 0");
  ASSERT_EQ(names, (std::set<std::string>{"buildd_slave_call_error_total"}));
  EXPECT_EQ(described().count(*names.begin()), 0u);
}

}  // namespace
}  // namespace buildd

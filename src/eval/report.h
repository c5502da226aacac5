// The self-contained HTML report of `fathom eval`: a table of every evaluated model and inline SVG plots
// (perplexity and KL divergence against bits per weight; per-tensor sensitivity as a heat map), no scripts, no
// external files.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fathom::eval {

// results: objects as fathom_eval_result_json gives them. Missing sections are left out of the table and plots.
// A result may carry "sensitivity": {"types": [names], "tensors": [{"name": ..., "kld": {type: value}}]}.
std::string html_report(const std::vector<nlohmann::json>& results, const std::string& title);

// Escapes &, <, >, " and ' for HTML text and attributes.
std::string html_escape(const std::string& s);

// Round tick values covering [lo, hi] (about `target` of them), as plots use.
std::vector<double> nice_ticks(double lo, double hi, int target);

}  // namespace fathom::eval

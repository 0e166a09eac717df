#pragma once
// Plain-text tables for meshctl's default output, kubectl-style: upper-case headers, columns
// separated by three spaces, no borders.

#include <string>
#include <vector>

namespace meshd::cli {

// rows[0] is the header.
std::string columns(const std::vector<std::vector<std::string>>& rows);

}  // namespace meshd::cli

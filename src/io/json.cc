// See json.h.
#include "src/io/json.h"

#include <set>
#include <vector>

namespace tritium {

StatusOr<nlohmann::json> ParseJson(std::string_view text, const std::string& what) {
  using json = nlohmann::json;
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::string duplicate;
  auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second &&
            duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  json j = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (j.is_discarded()) return DataLossError(what + ": not valid JSON");
  if (!duplicate.empty()) {
    return DataLossError(what + ": key '" + duplicate + "' appears twice in one object");
  }
  return j;
}

}  // namespace tritium

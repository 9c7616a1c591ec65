// JSON parsing for the files tritium reads (safetensors headers, config.json, tokenizer.json):
// nlohmann's parser, plus the one rule it does not enforce. A key repeated in one object is an
// error: nlohmann keeps the last value, so a file saying two things would be read as one of them.
#ifndef TRITIUM_IO_JSON_H_
#define TRITIUM_IO_JSON_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "src/base/status.h"

namespace tritium {

// Parses `text` (which `what` names in errors: "<file>" or "<file>: header"). Never throws.
StatusOr<nlohmann::json> ParseJson(std::string_view text, const std::string& what);

}  // namespace tritium

#endif  // TRITIUM_IO_JSON_H_

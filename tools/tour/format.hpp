// tools/tour/format.hpp: numbers as people read them (1,000,000; 4.2 GiB).
#pragma once

#include <cmath>
#include <cstdio>
#include <string>

namespace tour {

// An integer with thousands separators: 1000000 -> "1,000,000".
inline std::string commas(double value) {
  if (!std::isfinite(value)) return "n/a";
  const long long v = std::llround(value);
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

// A number with `decimals` places, or "n/a".
inline std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

// Seconds with three significant places at least: 13.8, 0.290, 0.0040.
inline std::string seconds_text(double s) {
  return fixed(s, s >= 10 ? 1 : s >= 1 ? 2 : s >= 0.01 ? 3 : 4);
}

// Bytes in the largest binary unit that keeps the number at least 1.
inline std::string bytes_text(double bytes) {
  if (!std::isfinite(bytes)) return "n/a";
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  double v = bytes;
  while (std::fabs(v) >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  return unit == 0 ? commas(v) + " B" : fixed(v, v < 10 ? 2 : v < 100 ? 1 : 0) + " " + kUnits[unit];
}

// `text` broken into lines of at most `width` columns at spaces, each line
// after the first starting with `indent`.
inline std::string wrap(const std::string& text, const std::string& indent, std::size_t width) {
  std::string out, line;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(pos, end - pos);
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > width) {
      out += line + "\n" + indent;
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    pos = end + 1;
  }
  return out + line;
}

}  // namespace tour

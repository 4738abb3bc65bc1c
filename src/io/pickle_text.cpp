// The text forms of pickles: UTF-8 and latin-1 code points, protocol 0's quoted STRING and
// raw-unicode-escape UNICODE arguments, and protocol 0's decimal LONG as LONG1's bytes.
#include <cstdint>
#include <string>
#include <vector>

#include "pickle_machine.h"

namespace mbmd::io::detail {

namespace {

// Appends the UTF-8 encoding of a code point (used for Python 2 / protocol 0 text and for
// _codecs.encode's latin-1 round trip).
void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// The value of `digits` as hexadecimal, or -1 when one is not a hex digit (std::stoul would
// take a sign, spaces or a valid prefix, and throw its own exceptions on the rest).
int64_t hex_value(const std::string& digits) {
  int64_t value = 0;
  for (const char c : digits) {
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

}  // namespace

std::vector<uint32_t> utf8_code_points(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (extra < 0 || i + extra >= s.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    uint32_t cp = extra == 0 ? c : (c & (0x3f >> extra));
    bool ok = true;
    for (int k = 1; k <= extra; ++k) {
      const auto d = static_cast<uint8_t>(s[i + k]);
      if ((d >> 6) != 2) ok = false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (!ok) {
      out.push_back(c);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += extra + 1;
  }
  return out;
}

std::string decimal_to_le_bytes(const std::string& digits_text) {
  const bool negative = !digits_text.empty() && digits_text[0] == '-';
  std::vector<uint8_t> mag;  // little-endian magnitude
  for (size_t i = negative ? 1 : 0; i < digits_text.size(); ++i) {
    unsigned carry = static_cast<unsigned>(digits_text[i] - '0');
    for (auto& byte : mag) {
      const unsigned v = byte * 10u + carry;
      byte = static_cast<uint8_t>(v & 0xff);
      carry = v >> 8;
    }
    while (carry) {
      mag.push_back(static_cast<uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }
  while (!mag.empty() && mag.back() == 0) mag.pop_back();
  if (negative) {
    unsigned carry = 1;
    for (auto& byte : mag) {
      const unsigned v = static_cast<uint8_t>(~byte) + carry;
      byte = static_cast<uint8_t>(v & 0xff);
      carry = v >> 8;
    }
    if (mag.empty() || !(mag.back() & 0x80)) mag.push_back(0xff);
    while (mag.size() > 1 && mag.back() == 0xff && (mag[mag.size() - 2] & 0x80)) mag.pop_back();
  } else if (!mag.empty() && (mag.back() & 0x80)) {
    mag.push_back(0);
  }
  return std::string(mag.begin(), mag.end());
}

// Protocol 0 STRING: a Python repr in quotes with backslash escapes.
std::string Unpickler::text_literal(const std::string& quoted) {
  if (quoted.size() < 2 || (quoted.front() != '\'' && quoted.front() != '"') ||
      quoted.back() != quoted.front()) {
    fail("STRING argument is not quoted");
  }
  std::string out;
  for (size_t i = 1; i + 1 < quoted.size(); ++i) {
    char c = quoted[i];
    if (c != '\\' || i + 2 >= quoted.size()) {
      out.push_back(c);
      continue;
    }
    char e = quoted[++i];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'x':
        if (i + 2 < quoted.size()) {
          const int64_t byte = hex_value(quoted.substr(i + 1, 2));
          if (byte < 0) fail("STRING argument has an invalid \\x escape");  // as Python
          out.push_back(static_cast<char>(byte));
          i += 2;
        }
        break;
      default:
        out.push_back(e);
    }
  }
  return out;
}

// Protocol 0 UNICODE: raw-unicode-escape, i.e. latin-1 with \uXXXX and \UXXXXXXXX.
std::string Unpickler::raw_unicode_escape(const std::string& raw) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size() && (raw[i + 1] == 'u' || raw[i + 1] == 'U')) {
      const size_t digits = raw[i + 1] == 'u' ? 4 : 8;
      if (i + 1 + digits < raw.size()) {
        const int64_t cp = hex_value(raw.substr(i + 2, digits));
        // Python refuses these too ("truncated \uXXXX escape", "\Uxxxxxxxx out of range").
        if (cp < 0 || cp > 0x10ffff) fail("UNICODE argument has an invalid \\u or \\U escape");
        append_utf8(out, static_cast<uint32_t>(cp));
        i += 1 + digits;
        continue;
      }
    }
    append_utf8(out, static_cast<uint8_t>(raw[i]));
  }
  return out;
}

}  // namespace mbmd::io::detail

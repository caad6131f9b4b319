// safetensors reading and writing; the format is described in checkpoint.hpp.
#include "checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "../engine/error.hpp"
#include "atomic_file.hpp"

namespace ember {

static_assert(std::endian::native == std::endian::little,
              "ember writes tensor bytes as they are in memory; safetensors needs little-endian");

namespace {

using json = nlohmann::json;

// The reference implementation's cap: a header larger than this is refused
// before anything is allocated for it.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
// Root object -> tensor entry -> shape array.
constexpr int kMaxHeaderDepth = 3;

template <class T>
constexpr const char* kDtype = sizeof(T) == 4 ? "F32" : "F64";

std::uint64_t dtype_size(std::string_view dtype) {
  if (dtype == "I64") return 8;
  if (dtype == "I32") return 4;
  return dtype == "F32" ? 4 : dtype == "F64" ? 8 : dtype == "U8" ? 1 : 0;
}

std::string quote_text(std::string_view s) { return ember::quote_text(s, 60); }

std::string shape_text(const std::vector<std::uint64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += fmt::format("{}{}", i ? "x" : "", dims[i]);
  return s + "]";
}

// --- reading ----------------------------------------------------------------

class FileReader {
 public:
  FileReader(const std::string& path, const char* op) : path_(path), op_(op) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail<IoError>("{}: {}: cannot open: {}", op, path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int error = errno;
      ::close(fd_);
      fail<IoError>("{}: {}: cannot stat: {}", op, path, std::strerror(error));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      fail<IoError>("{}: {}: not a regular file", op, path);
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  ~FileReader() { ::close(fd_); }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  std::uint64_t size() const { return size_; }

  // Exactly n bytes at offset, or IoError (the file may shrink while read).
  void read_at(std::uint64_t offset, void* destination, std::uint64_t n) const {
    auto* out = static_cast<char*>(destination);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, out, std::min<std::uint64_t>(n, 1u << 30), static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail<IoError>("{}: {}: cannot read: {}", op_, path_, std::strerror(errno));
      if (got == 0) fail<IoError>("{}: {}: unexpected end of file at byte {}", op_, path_, offset);
      out += got;
      offset += static_cast<std::uint64_t>(got);
      n -= static_cast<std::uint64_t>(got);
    }
  }

 private:
  std::string path_;
  const char* op_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

struct Header {
  std::vector<SafetensorsEntry> entries;  // sorted by data offset
  CheckpointMetadata metadata;
  std::uint64_t data_start = 0;  // file offset of the data section
};

// Parses JSON, refusing duplicate keys (which would silently shadow a
// tensor) and nesting deeper than the format has.
json parse_json(const std::string& text, const std::string& path, const char* op) {
  struct TooDeep {};
  int depth = 0;
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  bool has_duplicate = false;
  const json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        [[fallthrough]];
      case json::parse_event_t::array_start:
        if (++depth > kMaxHeaderDepth) throw TooDeep{};
        break;
      case json::parse_event_t::object_end:
        keys.pop_back();
        [[fallthrough]];
      case json::parse_event_t::array_end:
        --depth;
        break;
      case json::parse_event_t::key:
        if (!keys.back().insert(parsed.get<std::string>()).second && !has_duplicate) {
          has_duplicate = true;
          duplicate = parsed.get<std::string>();
        }
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, callback);
  } catch (const TooDeep&) {
    fail<IoError>("{}: {}: header nests deeper than the {} levels of the format", op, path, kMaxHeaderDepth);
  } catch (const json::exception& e) {
    fail<IoError>("{}: {}: header is not valid JSON: {}", op, path, e.what());
  }
  if (has_duplicate) fail<IoError>("{}: {}: header repeats the key {}", op, path, quote_text(duplicate));
  return header;
}

SafetensorsEntry parse_entry(const std::string& name, const json& info, std::uint64_t data_size,
                             const std::string& where) {
  if (!info.is_object()) fail<IoError>("{}: entry is not a JSON object", where);
  for (const auto& [key, value] : info.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail<IoError>("{}: unknown field {}", where, quote_text(key));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!info.contains(key)) fail<IoError>("{}: missing field \"{}\"", where, key);

  SafetensorsEntry entry;
  entry.name = name;
  const json& dtype = info["dtype"];
  if (!dtype.is_string()) fail<IoError>("{}: dtype is not a string", where);
  entry.dtype = dtype.get<std::string>();
  const std::uint64_t element_size = dtype_size(entry.dtype);
  if (element_size == 0)
    fail<IoError>("{}: dtype {} is not supported (ember reads F32, F64, I64, I32 and U8)", where,
                  quote_text(entry.dtype));

  const json& shape = info["shape"];
  if (!shape.is_array()) fail<IoError>("{}: shape is not an array", where);
  if (shape.size() > static_cast<std::size_t>(Shape::kMaxRank))
    fail<IoError>("{}: shape has rank {}, ember supports up to {}", where, shape.size(), Shape::kMaxRank);
  std::vector<std::uint64_t> dims;
  // The nonzero dimensions must multiply to at most 2^63 - 1 even when a
  // zero makes the tensor empty: loops over the other axes would run that often.
  std::uint64_t numel = 1, nonzero = 1;
  bool overflow = false;
  for (const json& d : shape) {
    if (!d.is_number_unsigned())
      fail<IoError>("{}: shape {} holds {}, not a non-negative integer", where, shape.dump(), d.dump());
    dims.push_back(d.get<std::uint64_t>());
    overflow = overflow || __builtin_mul_overflow(numel, dims.back(), &numel) ||
               (dims.back() != 0 && __builtin_mul_overflow(nonzero, dims.back(), &nonzero));
  }
  std::uint64_t bytes = 0;
  if (overflow || nonzero > static_cast<std::uint64_t>(std::numeric_limits<Index>::max()))
    fail<IoError>("{}: shape {} has more than 2^63 - 1 elements (zero dimensions aside)", where, shape_text(dims));
  if (__builtin_mul_overflow(numel, element_size, &bytes))
    fail<IoError>("{}: shape {} of {} takes more than 2^64 bytes", where, shape_text(dims), entry.dtype);

  const json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail<IoError>("{}: data_offsets {} is not [begin, end] with non-negative integers", where, offsets.dump());
  entry.begin = offsets[0].get<std::uint64_t>();
  entry.end = offsets[1].get<std::uint64_t>();
  if (entry.end < entry.begin)
    fail<IoError>("{}: data_offsets [{}, {}] end before they begin", where, entry.begin, entry.end);
  if (entry.end > data_size)
    fail<IoError>("{}: data_offsets [{}, {}] exceed the {}-byte data section", where, entry.begin, entry.end,
                  data_size);
  if (entry.end - entry.begin != bytes)
    fail<IoError>("{}: shape {} of {} takes {} bytes, data_offsets [{}, {}] hold {}", where, shape_text(dims),
                  entry.dtype, bytes, entry.begin, entry.end, entry.end - entry.begin);
  std::vector<Index> index_dims(dims.begin(), dims.end());
  entry.shape = Shape(std::span<const Index>(index_dims));
  return entry;
}

Header read_header(const FileReader& file, const std::string& path, const char* op) {
  if (file.size() < 8)
    fail<IoError>("{}: {}: file is {} bytes, too short for the 8-byte header length", op, path, file.size());
  unsigned char length_bytes[8];
  file.read_at(0, length_bytes, 8);
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | length_bytes[i];
  if (length > kMaxHeaderBytes)
    fail<IoError>("{}: {}: header length {} exceeds the limit of {} bytes", op, path, length, kMaxHeaderBytes);
  if (length > file.size() - 8)
    fail<IoError>("{}: {}: header length {} exceeds the {} bytes after the length field", op, path, length,
                  file.size() - 8);
  std::string text(length, '\0');
  file.read_at(8, text.data(), length);
  if (text.empty() || text[0] != '{') fail<IoError>("{}: {}: header does not start with '{{'", op, path);
  // nlohmann's parser stops at a NUL byte as at the end of input, which
  // would let bytes after it pass unchecked; valid JSON never holds one.
  if (const auto nul = text.find('\0'); nul != std::string::npos)
    fail<IoError>("{}: {}: header holds a NUL byte at offset {}", op, path, 8 + nul);
  const json root = parse_json(text, path, op);
  if (!root.is_object()) fail<IoError>("{}: {}: header is not a JSON object", op, path);

  Header header;
  header.data_start = 8 + length;
  const std::uint64_t data_size = file.size() - header.data_start;
  for (const auto& [name, info] : root.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) fail<IoError>("{}: {}: __metadata__ is not a JSON object", op, path);
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string())
          fail<IoError>("{}: {}: __metadata__ value of {} is not a string", op, path, quote_text(key));
        header.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    header.entries.push_back(
        parse_entry(name, info, data_size, fmt::format("{}: {}: tensor {}", op, path, quote_text(name))));
  }

  // The ranges must tile the data section: sorted, each starting where the
  // previous one ended, the last ending at the end of the file.
  auto& entries = header.entries;
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  std::uint64_t covered = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.begin < covered)
      fail<IoError>("{}: {}: tensors {} [{}, {}] and {} [{}, {}] overlap", op, path, quote_text(entries[i - 1].name),
                    entries[i - 1].begin, entries[i - 1].end, quote_text(e.name), e.begin, e.end);
    if (e.begin > covered)
      fail<IoError>("{}: {}: bytes [{}, {}) of the data section, before tensor {}, belong to no tensor", op, path,
                    covered, e.begin, quote_text(e.name));
    covered = e.end;
  }
  if (covered != data_size)
    fail<IoError>("{}: {}: bytes [{}, {}) at the end of the data section belong to no tensor", op, path, covered,
                  data_size);
  return header;
}

template <class T>
TensorT<T> read_tensor(const FileReader& file, const Header& header, const SafetensorsEntry& entry) {
  TensorT<T> t = TensorT<T>::empty(entry.shape);  // its byte size was checked against the file
  file.read_at(header.data_start + entry.begin, t.data(), entry.end - entry.begin);
  return t;
}

// An I64 or I32 tensor as T: refused unless every value is exact in T
// (|v| <= 2^24 for float, 2^53 for double), so a count such as PyTorch's
// int64 num_batches_tracked loads as the same number.
template <class T>
TensorT<T> read_integers(const FileReader& file, const Header& header, const SafetensorsEntry& e,
                         const std::string& path) {
  std::vector<std::uint8_t> bytes(e.end - e.begin);
  file.read_at(header.data_start + e.begin, bytes.data(), bytes.size());
  constexpr int kDigits = std::numeric_limits<T>::digits;
  constexpr std::int64_t kLimit = std::int64_t{1} << kDigits;
  TensorT<T> t = TensorT<T>::empty(e.shape);
  for (Index i = 0; i < t.numel(); ++i) {
    std::int64_t v = 0;
    if (e.dtype == "I64") {
      std::memcpy(&v, bytes.data() + 8 * i, 8);
    } else {
      std::int32_t narrow = 0;
      std::memcpy(&narrow, bytes.data() + 4 * i, 4);
      v = narrow;
    }
    if (v > kLimit || v < -kLimit)
      fail<IoError>("load_into: {}: tensor {} ({} {}) holds {} at element {}, beyond the 2^{} that {} holds exactly",
                    path, quote_text(e.name), e.dtype, e.shape.str(), v, i, kDigits, kDtype<T>);
    t.data()[i] = static_cast<T>(v);
  }
  return t;
}

}  // namespace

std::vector<SafetensorsEntry> inspect_safetensors(const std::string& path, CheckpointMetadata* metadata) {
  const FileReader file(path, "inspect_safetensors");
  Header header = read_header(file, path, "inspect_safetensors");
  if (metadata) *metadata = std::move(header.metadata);
  return std::move(header.entries);
}

void save_safetensors_bytes(const std::string& path, const std::vector<SafetensorsBlob>& tensors,
                            const CheckpointMetadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string_view> names;
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    const std::string& name = t.name;
    if (name.empty()) fail<ValueError>("save_safetensors: {}: a tensor has an empty name", path);
    if (name == "__metadata__") fail<ValueError>("save_safetensors: {}: the name \"__metadata__\" is reserved", path);
    if (!names.insert(name).second)
      fail<ValueError>("save_safetensors: {}: the name {} appears twice", path, quote_text(name));
    const std::uint64_t element = dtype_size(t.dtype);
    if (element == 0) fail<ValueError>("save_safetensors: {}: tensor {}: dtype {} is not supported", path, quote_text(name), t.dtype);
    const auto bytes = static_cast<std::uint64_t>(t.shape.numel()) * element;
    if (bytes != t.bytes.size())
      fail<ValueError>("save_safetensors: {}: tensor {} {} {} needs {} bytes, got {}", path, quote_text(name), t.dtype,
                       t.shape.str(), bytes, t.bytes.size());
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = t.dtype;
    entry["shape"] = nlohmann::ordered_json::array();
    for (const Index d : t.shape.dims()) entry["shape"].push_back(d);
    entry["data_offsets"] = nlohmann::ordered_json::array({offset, offset + bytes});
    header[name] = std::move(entry);
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception&) {
    fail<ValueError>("save_safetensors: {}: a tensor name or metadata string is not valid UTF-8", path);
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // the data then starts 8-byte aligned
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(text.size() >> (8 * i));

  detail::AtomicFile file(path);
  file.write(length, 8);
  file.write(text.data(), text.size());
  for (const auto& t : tensors) file.write(t.bytes.data(), t.bytes.size());
  file.commit();
}

std::vector<SafetensorsBytes> load_safetensors_bytes(const std::string& path, CheckpointMetadata* metadata) {
  const FileReader file(path, "load_safetensors");
  Header header = read_header(file, path, "load_safetensors");
  std::vector<SafetensorsBytes> out;
  for (const auto& e : header.entries) {
    out.push_back({e.name, e.dtype, e.shape, std::vector<std::uint8_t>(e.end - e.begin)});
    file.read_at(header.data_start + e.begin, out.back().bytes.data(), e.end - e.begin);
  }
  if (metadata) *metadata = std::move(header.metadata);
  return out;
}

template <class T>
void save_safetensors(const std::string& path, const NamedTensors<T>& tensors, const CheckpointMetadata& metadata) {
  std::vector<SafetensorsBlob> blobs;
  blobs.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) fail<ValueError>("save_safetensors: {}: tensor {} is undefined", path, quote_text(name));
    const auto* data = reinterpret_cast<const std::uint8_t*>(tensor.data());
    blobs.push_back({name, kDtype<T>, tensor.shape(), {data, std::size_t(tensor.numel()) * sizeof(T)}});
  }
  save_safetensors_bytes(path, blobs, metadata);
}

template <class T>
NamedTensors<T> load_safetensors(const std::string& path, CheckpointMetadata* metadata) {
  const FileReader file(path, "load_safetensors");
  Header header = read_header(file, path, "load_safetensors");
  for (const auto& e : header.entries)
    if (e.dtype != kDtype<T>)
      fail<IoError>("load_safetensors: {}: tensor {} is {}, but {} was requested", path, quote_text(e.name), e.dtype,
                    kDtype<T>);
  NamedTensors<T> out;
  out.reserve(header.entries.size());
  for (const auto& e : header.entries) out.emplace_back(e.name, read_tensor<T>(file, header, e));
  if (metadata) *metadata = std::move(header.metadata);
  return out;
}

namespace {
std::string name_list(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 5;
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i)
    s += fmt::format("{}{}", i ? ", " : "", quote_text(names[i]));
  if (names.size() > kShown) s += fmt::format(" and {} more", names.size() - kShown);
  return s;
}
}  // namespace

template <class T>
void load_into(const std::string& path, const NamedTensors<T>& parameters, const std::vector<std::string>& integral) {
  std::unordered_map<std::string_view, const TensorT<T>*> wanted;
  for (const auto& [name, tensor] : parameters) {
    if (!tensor.defined()) fail<ValueError>("load_into: {}: parameter {} is undefined", path, quote_text(name));
    if (!wanted.emplace(name, &tensor).second)
      fail<ValueError>("load_into: {}: the model lists the parameter {} twice", path, quote_text(name));
  }
  const FileReader file(path, "load_into");
  const Header header = read_header(file, path, "load_into");

  std::unordered_map<std::string_view, const SafetensorsEntry*> stored;
  std::vector<std::string> missing, unexpected;
  for (const auto& e : header.entries) {
    stored.emplace(e.name, &e);
    if (!wanted.count(e.name)) unexpected.push_back(e.name);
  }
  for (const auto& [name, tensor] : parameters)
    if (!stored.count(name)) missing.push_back(name);
  if (!missing.empty() || !unexpected.empty())
    fail<IoError>("load_into: {}: the file's names differ from the model's: missing {}{}{}", path,
                  missing.empty() ? "none" : name_list(missing), unexpected.empty() ? "" : "; unexpected ",
                  name_list(unexpected));
  for (const auto& [name, tensor] : parameters) {
    const SafetensorsEntry& e = *stored.at(name);
    const bool from_integers = (e.dtype == "I64" || e.dtype == "I32") &&
                               std::find(integral.begin(), integral.end(), name) != integral.end();
    if (e.dtype != kDtype<T> && !from_integers)
      fail<IoError>("load_into: {}: tensor {} is {} in the file, {} in the model", path, quote_text(name), e.dtype,
                    kDtype<T>);
    if (!(e.shape == tensor.shape()))
      fail<IoError>("load_into: {}: tensor {} has shape {} in the file, {} in the model", path, quote_text(name),
                    e.shape.str(), tensor.shape().str());
  }
  // Read everything before touching the model, so a read error leaves it intact.
  std::vector<TensorT<T>> values;
  values.reserve(parameters.size());
  for (const auto& [name, tensor] : parameters) {
    const SafetensorsEntry& e = *stored.at(name);
    values.push_back(e.dtype == kDtype<T> ? read_tensor<T>(file, header, e) : read_integers<T>(file, header, e, path));
  }
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    TensorT<T> target = parameters[i].second;
    std::copy(values[i].data(), values[i].data() + values[i].numel(), target.data());
  }
}

#define EMBER_INSTANTIATE(T)                                                                             \
  template void save_safetensors(const std::string&, const NamedTensors<T>&, const CheckpointMetadata&); \
  template NamedTensors<T> load_safetensors(const std::string&, CheckpointMetadata*);                    \
  template void load_into(const std::string&, const NamedTensors<T>&, const std::vector<std::string>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember

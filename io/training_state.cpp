// One-file training checkpoints; the layout is described in training_state.hpp.
#include "training_state.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <unordered_map>

#include "../engine/error.hpp"

namespace ember {

namespace {

constexpr const char* kFormat = "training_state/1";

std::string quoted(std::string_view s) { return quote_text(s, 60); }

std::string number_text(double v) { return fmt::format("{}", v); }  // shortest round trip

bool starts_with(const std::string& s, std::string_view prefix, std::string& rest) {
  if (s.compare(0, prefix.size(), prefix) != 0) return false;
  rest = s.substr(prefix.size());
  return true;
}

void put_scalars(CheckpointMetadata& meta, const char* prefix, const StateScalars& scalars) {
  for (const auto& [key, value] : scalars) meta[fmt::format("{}{}", prefix, key)] = number_text(value);
}

// The fields of "data.<name>.<field>", in the order they are checked.
constexpr const char* kIteratorFields[] = {"size",     "batch_size", "shuffle",   "shard",
                                           "in_epoch", "position",   "epoch_rng", "rng"};

// The stream names passed in, each non-empty and listed once (ValueError).
template <class List>
void check_stream_names(const List& list, const char* kind, const char* op, const std::string& path) {
  std::unordered_map<std::string, int> seen;
  for (const auto& [name, pointer] : list) {
    if (name.empty()) fail<ValueError>("{}: {}: a {} has an empty name", op, path, kind);
    if (!pointer) fail<ValueError>("{}: {}: {} {} is null", op, path, kind, quoted(name));
    if (seen[name]++) fail<ValueError>("{}: {}: the {}s list {} twice", op, path, kind, quoted(name));
  }
}

template <class T>
void put_streams(CheckpointMetadata& meta, const RandomStreams<T>& streams) {
  for (const auto& [name, gen] : streams.generators)
    meta[fmt::format("rng.{}", name)] = format_generator_state(gen->state());
  for (const auto& [name, it] : streams.iterators) {
    const BatchIteratorState s = it->state_dict();
    auto put = [&](const char* field, std::string text) { meta[fmt::format("data.{}.{}", name, field)] = text; };
    put("size", std::to_string(s.dataset_size));
    put("batch_size", std::to_string(s.batch_size));
    put("shuffle", s.shuffle ? "1" : "0");
    put("shard", fmt::format("{}/{}", s.shard.rank, s.shard.size));
    put("in_epoch", s.in_epoch ? "1" : "0");
    put("position", std::to_string(s.position));
    put("epoch_rng", format_generator_state(s.epoch_generator));
    put("rng", format_generator_state(s.generator));
  }
}

// A non-negative integer written by std::to_string, else nullopt.
std::optional<std::int64_t> parse_count(std::string_view text) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < 0) return std::nullopt;
  return v;
}

// "data.<name>.<field>" values (all eight present) as a state; `bad` throws.
template <class Bad>
BatchIteratorState parse_iterator(const std::string& name, const std::map<std::string, std::string>& fields,
                                  const Bad& bad) {
  for (const char* field : kIteratorFields)
    if (!fields.count(field)) bad(fmt::format("the metadata lacks {}", quoted("data." + name + "." + field)));
  auto malformed = [&](const char* field, const char* what) {
    bad(fmt::format("metadata {} = {} is not {}", quoted("data." + name + "." + field), quoted(fields.at(field)),
                    what));
  };
  auto count = [&](const char* field) {
    const auto v = parse_count(fields.at(field));
    if (!v) malformed(field, "a non-negative integer");
    return *v;
  };
  auto flag = [&](const char* field) {
    const std::string& v = fields.at(field);
    if (v != "0" && v != "1") malformed(field, "0 or 1");
    return v == "1";
  };
  auto state = [&](const char* field) {
    const auto v = parse_generator_state(fields.at(field));
    if (!v) malformed(field, "a generator state");
    return *v;
  };
  BatchIteratorState s;
  s.dataset_size = count("size");
  s.batch_size = count("batch_size");
  s.shuffle = flag("shuffle");
  const std::string& shard = fields.at("shard");
  const auto slash = shard.find('/');
  const auto rank = parse_count(std::string_view(shard).substr(0, slash));
  const auto size = slash == std::string::npos ? std::nullopt : parse_count(std::string_view(shard).substr(slash + 1));
  if (!rank || !size || *rank > 1'000'000 || *size > 1'000'000) malformed("shard", "\"rank/size\"");
  s.shard = {static_cast<int>(*rank), static_cast<int>(*size)};
  s.in_epoch = flag("in_epoch");
  s.position = count("position");
  s.epoch_generator = state("epoch_rng");
  s.generator = state("rng");
  return s;
}

}  // namespace

template <class T>
void save_training_state(const std::string& path, const NamedTensors<T>& model, const OptimizerT<T>& optimizer,
                         const Scheduler* schedule, const TrainingProgress& progress,
                         const RandomStreams<T>& streams) {
  check_stream_names(streams.generators, "generator", "save_training_state", path);
  check_stream_names(streams.iterators, "iterator", "save_training_state", path);
  // Everything is gathered before the file is opened.
  const OptimizerState<T> state = optimizer.state_dict();
  NamedTensors<T> tensors;
  tensors.reserve(model.size() + state.tensors.size());
  for (const auto& [name, tensor] : model) tensors.emplace_back("model." + name, tensor);
  for (const auto& [name, tensor] : state.tensors) tensors.emplace_back("optim." + name, tensor);
  CheckpointMetadata meta;
  meta["ember.format"] = kFormat;
  meta["optim.kind"] = state.kind;
  put_scalars(meta, "optim.", state.scalars);
  if (schedule) {
    const SchedulerState s = schedule->state_dict();
    meta["sched.kind"] = s.kind;
    put_scalars(meta, "sched.", s.scalars);
  }
  meta["progress.step"] = std::to_string(progress.step);
  meta["progress.epoch"] = std::to_string(progress.epoch);
  for (const auto& [key, value] : progress.extra) meta["extra." + key] = value;
  put_streams(meta, streams);
  save_safetensors(path, tensors, meta);
}

template <class T>
TrainingProgress load_training_state(const std::string& path, const NamedTensors<T>& model, OptimizerT<T>& optimizer,
                                     Scheduler* schedule, const RandomStreams<T>& streams) {
  auto bad = [&path](const std::string& what) { fail<IoError>("load_training_state: {}: {}", path, what); };
  check_stream_names(streams.generators, "generator", "load_training_state", path);
  check_stream_names(streams.iterators, "iterator", "load_training_state", path);
  CheckpointMetadata meta;
  NamedTensors<T> file = load_safetensors<T>(path, &meta);  // validates the whole file, reads it into new tensors

  if (!meta.count("ember.format"))
    bad("not a training state: no \"ember.format\" in the metadata (save_training_state writes one)");
  if (meta.at("ember.format") != kFormat)
    bad(fmt::format("format {} is not {}", quoted(meta.at("ember.format")), kFormat));

  // The metadata: the optimizer's and schedule's scalars, the progress.
  OptimizerState<T> state;
  SchedulerState sched;
  bool has_sched = false, has_kind = false;
  TrainingProgress progress;
  bool has_step = false, has_epoch = false;
  std::map<std::string, GeneratorState> file_generators;
  std::map<std::string, std::map<std::string, std::string>> file_iterators;  // name -> field -> text
  for (const auto& [key, text] : meta) {
    std::string rest;
    auto number = [&]() {
      double v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        bad(fmt::format("metadata {} = {} is not a number", quoted(key), quoted(text)));
      return v;
    };
    auto count = [&]() {
      std::int64_t v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < 0)
        bad(fmt::format("metadata {} = {} is not a non-negative integer", quoted(key), quoted(text)));
      return v;
    };
    if (key == "ember.format") continue;
    if (key == "optim.kind") {
      state.kind = text;
      has_kind = true;
    } else if (key == "sched.kind") {
      sched.kind = text;
      has_sched = true;
    } else if (key == "progress.step") {
      progress.step = count();
      has_step = true;
    } else if (key == "progress.epoch") {
      progress.epoch = count();
      has_epoch = true;
    } else if (starts_with(key, "extra.", rest)) {
      progress.extra[rest] = text;
    } else if (starts_with(key, "rng.", rest)) {
      const auto g = parse_generator_state(text);
      if (!g) bad(fmt::format("metadata {} = {} is not a generator state", quoted(key), quoted(text)));
      file_generators[rest] = *g;
    } else if (starts_with(key, "data.", rest)) {
      const auto dot = rest.rfind('.');
      const std::string field = dot == std::string::npos ? "" : rest.substr(dot + 1);
      if (dot == 0 || std::find(std::begin(kIteratorFields), std::end(kIteratorFields), field) ==
                          std::end(kIteratorFields))
        bad(fmt::format("unexpected metadata key {}", quoted(key)));
      file_iterators[rest.substr(0, dot)][field] = text;
    } else if (starts_with(key, "optim.", rest)) {
      state.scalars[rest] = number();
    } else if (starts_with(key, "sched.", rest)) {
      sched.scalars[rest] = number();
      has_sched = true;
    } else {
      bad(fmt::format("unexpected metadata key {}", quoted(key)));
    }
  }
  if (!has_kind) bad("the metadata lacks \"optim.kind\"");
  if (!has_step || !has_epoch) bad("the metadata lacks \"progress.step\" or \"progress.epoch\"");
  if (has_sched && sched.kind.empty()) bad("the metadata has schedule scalars but no \"sched.kind\"");

  // The tensors: the model's and the optimizer's.
  std::unordered_map<std::string, const TensorT<T>*> stored;
  for (const auto& [name, tensor] : file) {
    std::string rest;
    if (starts_with(name, "model.", rest)) stored.emplace(rest, &tensor);
    else if (starts_with(name, "optim.", rest)) state.tensors.emplace_back(rest, tensor);
    else bad(fmt::format("unexpected tensor {} (neither \"model.\" nor \"optim.\")", quoted(name)));
  }
  std::unordered_map<std::string, const TensorT<T>*> wanted;
  for (const auto& [name, tensor] : model) {
    if (!tensor.defined()) fail<ValueError>("load_training_state: {}: model tensor {} is undefined", path, quoted(name));
    if (!wanted.emplace(name, &tensor).second)
      fail<ValueError>("load_training_state: {}: the model lists {} twice", path, quoted(name));
    const auto it = stored.find(name);
    if (it == stored.end()) bad(fmt::format("the file lacks the model tensor {}", quoted("model." + name)));
    if (!(it->second->shape() == tensor.shape()))
      bad(fmt::format("model tensor {} has shape {} in the file, {} in the model", quoted(name),
                      it->second->shape().str(), tensor.shape().str()));
  }
  for (const auto& [name, tensor] : stored)
    if (!wanted.count(name)) bad(fmt::format("the file has the model tensor {}, which the model lacks", quoted(name)));

  try {
    optimizer.check_state_dict(state);
  } catch (const ValueError& e) {
    bad(e.what());
  }
  if (schedule && !has_sched)
    bad(fmt::format("the file holds no schedule, but a {} was given to load into", schedule->kind()));
  if (!schedule && has_sched)
    bad(fmt::format("the file holds a {} schedule's state; pass the schedule to load it into", quoted(sched.kind)));
  if (schedule) {
    try {
      schedule->check_state_dict(sched);
    } catch (const ValueError& e) {
      bad(e.what());
    }
  }

  // The random streams: exactly those the file holds, each state fitting.
  for (const auto& [name, gen] : streams.generators)
    if (!file_generators.count(name))
      bad(fmt::format("the file lacks the random stream {}", quoted("rng." + name)));
  for (const auto& [name, state] : file_generators)
    if (std::none_of(streams.generators.begin(), streams.generators.end(),
                     [&name](const auto& g) { return g.first == name; }))
      bad(fmt::format("the file holds the random stream {}; pass that generator to load it into", quoted(name)));
  std::vector<BatchIteratorState> iterator_states;
  for (const auto& [name, it] : streams.iterators) {
    const auto found = file_iterators.find(name);
    if (found == file_iterators.end()) bad(fmt::format("the file lacks the iterator {}", quoted("data." + name)));
    iterator_states.push_back(parse_iterator(name, found->second, bad));
    try {
      it->check_state_dict(iterator_states.back());
    } catch (const ValueError& e) {
      bad(fmt::format("iterator {}: {}", quoted(name), e.what()));
    }
  }
  for (const auto& [name, fields] : file_iterators)
    if (std::none_of(streams.iterators.begin(), streams.iterators.end(),
                     [&name](const auto& i) { return i.first == name; }))
      bad(fmt::format("the file holds the iterator {}; pass that iterator to load it into", quoted(name)));

  // Everything fits: nothing below can fail.
  for (const auto& [name, tensor] : model) {
    const TensorT<T>& from = *stored.at(name);
    TensorT<T> target = tensor;
    std::copy(from.data(), from.data() + from.numel(), target.data());
  }
  optimizer.load_state_dict(state);
  if (schedule) schedule->load_state_dict(sched);
  for (const auto& [name, gen] : streams.generators) gen->set_state(file_generators.at(name));
  for (std::size_t i = 0; i < streams.iterators.size(); ++i)
    streams.iterators[i].second->load_state_dict(iterator_states[i]);
  return progress;
}

#define EMBER_INSTANTIATE(T)                                                                                   \
  template void save_training_state(const std::string&, const NamedTensors<T>&, const OptimizerT<T>&,         \
                                    const Scheduler*, const TrainingProgress&, const RandomStreams<T>&);        \
  template TrainingProgress load_training_state(const std::string&, const NamedTensors<T>&, OptimizerT<T>&, \
                                                Scheduler*, const RandomStreams<T>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember

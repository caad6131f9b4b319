// One-file training checkpoints; the layout is described in training_state.hpp.
#include "training_state.hpp"

#include <charconv>
#include <cmath>
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

}  // namespace

template <class T>
void save_training_state(const std::string& path, const NamedTensors<T>& model, const OptimizerT<T>& optimizer,
                         const Scheduler* schedule, const TrainingProgress& progress) {
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
  save_safetensors(path, tensors, meta);
}

template <class T>
TrainingProgress load_training_state(const std::string& path, const NamedTensors<T>& model, OptimizerT<T>& optimizer,
                                     Scheduler* schedule) {
  auto bad = [&path](const std::string& what) { fail<IoError>("load_training_state: {}: {}", path, what); };
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

  // Everything fits: nothing below can fail.
  for (const auto& [name, tensor] : model) {
    const TensorT<T>& from = *stored.at(name);
    TensorT<T> target = tensor;
    std::copy(from.data(), from.data() + from.numel(), target.data());
  }
  optimizer.load_state_dict(state);
  if (schedule) schedule->load_state_dict(sched);
  return progress;
}

#define EMBER_INSTANTIATE(T)                                                                                   \
  template void save_training_state(const std::string&, const NamedTensors<T>&, const OptimizerT<T>&,         \
                                    const Scheduler*, const TrainingProgress&);                                 \
  template TrainingProgress load_training_state(const std::string&, const NamedTensors<T>&, OptimizerT<T>&, \
                                                Scheduler*);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember

// Resumable training: the model, the optimizer's state, the schedule's state
// and the run's progress in one safetensors file.
//
//   save_training_state("run.safetensors", model.named_parameters(), opt, &schedule, {.step = s, .epoch = e});
//   ...
//   TrainingProgress at = load_training_state("run.safetensors", model.named_parameters(), opt, &schedule);
//
// The file is an ordinary safetensors file (checkpoint.hpp): numpy or
// safetensors.torch read it. Its layout:
//   tensors   "model.<name>"          each model tensor under its own name
//             "optim.<i>.<buffer>"    the optimizer's buffers by parameter
//                                     position: momentum_buffer (SGD),
//                                     exp_avg, exp_avg_sq (Adam, AdamW)
//   metadata  "ember.format"          "training_state/1"
//             "optim.kind"            "SGD", "Adam" or "AdamW"
//             "optim.<scalar>"        lr, hyperparameters, num_params, <i>.step
//             "sched.kind", "sched.<scalar>"  the schedule's settings and progress (if any)
//             "progress.step", "progress.epoch", "extra.<key>"  TrainingProgress
// Numbers are written as the shortest decimal that reads back to the same
// double, so a resumed run continues bit-identically.
//
// Saving is atomic as save_safetensors is: a failed save leaves the previous
// file intact. Loading reads and checks everything (the file, the model's
// names and shapes, the optimizer's kind, parameter count, shapes and
// hyperparameters, the schedule's kind and settings) before it changes
// anything; a misfit is an IoError of one line naming the file and what does
// not fit, and the model, optimizer and schedule are then untouched.
#pragma once

#include <cstdint>
#include <string>

#include "../nn/optim.hpp"
#include "checkpoint.hpp"

namespace ember {

struct TrainingProgress {
  std::int64_t step = 0;     // optimizer steps taken, as the caller counts them
  std::int64_t epoch = 0;    // epochs completed
  CheckpointMetadata extra;  // the caller's own strings, saved as "extra.<key>"
};

// `schedule` may be null (no schedule saved).
template <class T>
void save_training_state(const std::string& path, const NamedTensors<T>& model, const OptimizerT<T>& optimizer,
                         const Scheduler* schedule = nullptr, const TrainingProgress& progress = {});

// Restores the model's values, the optimizer's and the schedule's state
// (pass the schedule exactly when the file holds one) and returns the
// progress saved with them.
template <class T>
TrainingProgress load_training_state(const std::string& path, const NamedTensors<T>& model, OptimizerT<T>& optimizer,
                                     Scheduler* schedule = nullptr);

}  // namespace ember

// Resumable training: the model, the optimizer's state, the schedule's state,
// the run's progress and (optionally) its random streams in one safetensors
// file.
//
//   RandomStreams<float> streams{.generators = model.named_generators(), .iterators = {{"train", &batches}}};
//   save_training_state("run.safetensors", model.state_dict(), opt, &schedule, {.step = s, .epoch = e}, streams);
//   ...
//   TrainingProgress at = load_training_state("run.safetensors", model.state_dict(), opt, &schedule, streams);
//
// The model is any list of named tensors: state_dict() (parameters and
// buffers such as BatchNorm's running statistics) or named_parameters().
// The random streams are what makes a run with dropout or shuffled batches
// resume bit-identically: each Generator's exact state (a Dropout's, via
// model.named_generators(), or any of the caller's own) and each
// BatchIterator's place in its epoch with the state of the generator it
// shuffles with. Without them (the default) a resumed run draws other
// masks and batches than the uninterrupted one would.
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
//             "rng.<name>"            a generator's state, format_generator_state's
//                                     line (engine/random.hpp): its four words,
//                                     the Box-Muller spare's bits and flag, in hex
//             "data.<name>.<field>"   an iterator's BatchIteratorState
//                                     (data/dataset.hpp): size, batch_size,
//                                     shuffle (0/1), shard ("rank/size"),
//                                     in_epoch (0/1), position, and the states
//                                     epoch_rng (before the epoch's order was
//                                     drawn) and rng (now), as "rng.<name>"
// Numbers are written as the shortest decimal that reads back to the same
// double, so a resumed run continues bit-identically. A file without "rng."
// and "data." keys (as written before they existed) loads when no streams
// are passed.
//
// Saving is atomic as save_safetensors is: a failed save leaves the previous
// file intact. Loading reads and checks everything (the file, the model's
// names and shapes, the optimizer's kind, parameter count, shapes and
// hyperparameters, the schedule's kind and settings, each random stream's
// name and state, each iterator's dataset size, batch size, shuffling and
// shard) before it changes anything; a misfit is an IoError of one line
// naming the file and what does not fit, and the model, optimizer, schedule,
// generators and iterators are then untouched. As with the schedule, the
// streams passed must be exactly those the file holds.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../data/dataset.hpp"
#include "../engine/random.hpp"
#include "../nn/optim.hpp"
#include "checkpoint.hpp"

namespace ember {

struct TrainingProgress {
  std::int64_t step = 0;     // optimizer steps taken, as the caller counts them
  std::int64_t epoch = 0;    // epochs completed
  CheckpointMetadata extra;  // the caller's own strings, saved as "extra.<key>"
};

// A run's random streams, by name (names non-empty and unique per kind).
template <class T>
struct RandomStreams {
  NamedGenerators generators;                                         // e.g. model.named_generators()
  std::vector<std::pair<std::string, BatchIteratorT<T>*>> iterators;  // e.g. {{"train", &batches}}
};

// `schedule` may be null (no schedule saved).
template <class T>
void save_training_state(const std::string& path, const NamedTensors<T>& model, const OptimizerT<T>& optimizer,
                         const Scheduler* schedule = nullptr, const TrainingProgress& progress = {},
                         const RandomStreams<T>& streams = {});

// Restores the model's values, the optimizer's and the schedule's state
// (pass the schedule exactly when the file holds one) and the random
// streams (exactly those the file holds), and returns the progress saved
// with them.
template <class T>
TrainingProgress load_training_state(const std::string& path, const NamedTensors<T>& model, OptimizerT<T>& optimizer,
                                     Scheduler* schedule = nullptr, const RandomStreams<T>& streams = {});

}  // namespace ember

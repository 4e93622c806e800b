#pragma once
/// Training checkpoints for TracIn (attribution/influence/tracin.h): the weights of a model at
/// several points of its training, each with the learning rate in force there, as written by
/// `backlight train --save-every N --checkpoint-dir DIR`.
///
/// Format: one safetensors file per checkpoint, DIR/checkpoint-<step, 8 digits>.safetensors,
/// holding the model's state_dict (save_weights, so "arch" and "format" metadata as every
/// backlight weights file) plus the metadata
///   "lr"     learning rate of the optimizer at that point (decimal text, e.g. "0.002")
///   "epoch"  epochs begun so far (1-based; the checkpoint after the last step of epoch e says e)
///   "step"   optimizer steps taken so far
/// and whatever the writer adds (train adds its data seed, sample count and label flipping).
/// A PyTorch script writes the same with safetensors.torch.save_file(state_dict, path,
/// metadata={"lr": ..., "epoch": ..., "step": ...}) (tools/reference/make_tracin_fixtures.py).
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/module.h"

namespace backlight {

struct CheckpointInfo {
  std::filesystem::path path;
  double lr = 0.0;
  int64_t epoch = 0;
  int64_t step = 0;
  std::map<std::string, std::string> metadata;  ///< every metadata entry of the file
};

/// DIR/checkpoint-<step>.safetensors for `step` (zero-padded to 8 digits, so names sort by step).
std::filesystem::path checkpoint_path(const std::filesystem::path& dir, int64_t step);

/// Writes `model`'s weights with {"lr", "epoch", "step"} and `extra` metadata to
/// checkpoint_path(dir, step) (dir must exist). lr > 0, epoch >= 0, step >= 0.
void save_checkpoint(const Module& model, const std::filesystem::path& dir, double lr, int64_t epoch, int64_t step,
                     const std::map<std::string, std::string>& extra = {});

/// Every *.safetensors file directly in `dir`, ordered by step (then file name), with its lr,
/// epoch and step read from the metadata (each file is read and validated once here; its
/// tensors are read again when the checkpoint is loaded, so at most one is in memory). Throws backlight::Error naming the folder when it does not exist,
/// holds no .safetensors file, or a file lacks "lr" (or has one that is not a number > 0).
/// "epoch" and "step" are optional (0 when absent).
std::vector<CheckpointInfo> list_checkpoints(const std::filesystem::path& dir);

/// A copy of `model` (clone) with the checkpoint's weights loaded (strict; "arch" must match
/// the model's when the file names one and `arch` is not empty).
ModulePtr load_checkpoint(const Module& model, const CheckpointInfo& checkpoint, const std::string& arch = {});

}  // namespace backlight

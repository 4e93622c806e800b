#include "models/feature_classifier.h"

#include "engine/error.h"
#include "engine/ops/ops.h"
#include "models/op_path.h"

namespace backlight {

FeatureClassifier::FeatureClassifier(std::string type_name, ModulePtr features, ModulePtr avgpool,
                                     ModulePtr classifier)
    : type_name_(std::move(type_name)) {
  register_module("features", std::move(features));
  if (avgpool) register_module("avgpool", std::move(avgpool));
  register_module("classifier", std::move(classifier));
}

Var FeatureClassifier::forward(const Var& x) const {
  BL_CHECK_SHAPE(x.shape().rank() == 4, type_name_, ": expected input [N,C,H,W], got ", x.shape());
  Var h = child("features").forward(x);
  if (const Module* pool = find("avgpool")) h = pool->forward(h);
  h = flatten(h, 1, -1, op_path(*this, "flatten"));
  return child("classifier").forward(h);
}

}  // namespace backlight

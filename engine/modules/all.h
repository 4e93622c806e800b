#pragma once
/// All standard modules (engine/modules/*.h): PyTorch class names, parameter names, defaults and
/// initialisation, each forward recording atomic tape nodes named by the module path.
#include "engine/module.h"
#include "engine/modules/activation.h"
#include "engine/modules/attention.h"
#include "engine/modules/container.h"
#include "engine/modules/conv.h"
#include "engine/modules/dropout.h"
#include "engine/modules/embedding.h"
#include "engine/modules/flatten.h"
#include "engine/modules/init.h"
#include "engine/modules/linear.h"
#include "engine/modules/norm.h"
#include "engine/modules/pooling.h"

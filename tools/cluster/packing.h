#pragma once
/// The CLI's names for the one byte packer, attribution/core/packing.h (the collectives of
/// tools/cluster/cluster.h and the units of tools/cluster/unit_cache.h use it): kept so code that
/// says cli::Packer / cli::Unpacker compiles; new code can name backlight::Packer directly.
#include "attribution/core/packing.h"

namespace backlight::cli {

using backlight::Packer;
using backlight::Unpacker;

}  // namespace backlight::cli

// The one header users include: #include <ember/ember.hpp>
#pragma once

#include "../engine/error.hpp"
#include "../engine/gradcheck.hpp"
#include "../engine/observer.hpp"
#include "../engine/random.hpp"
#include "../engine/record.hpp"
#include "../engine/shape.hpp"
#include "../engine/tensor.hpp"
#include "../ops/arithmetic.hpp"

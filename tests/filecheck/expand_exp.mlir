// keir-expand: math.exp on a vector becomes range reduction + polynomial on FMAs + exponent
// bit scaling, with no call left; a scalar exp gets the same code (same value in every lane).
// The integer n comes from the bits of a magic-constant FMA (no floor, no fptosi). An argument
// provably <= 0 (here -(a*a)) loses the upper clamp and is scaled by one multiply.
// RUN: keir opt %s --pipeline keir-expand

func.func @f(%v: vector<8xf32>, %s: f32) -> (vector<8xf32>, f32) {
  %0 = math.exp %v : vector<8xf32>
  %1 = math.exp %s : f32
  return %0, %1 : vector<8xf32>, f32
}

// CHECK-LABEL: func.func @f(
// CHECK-NOT:     math.exp %{{.*}} : vector<8xf32>
// CHECK-NOT:     math.floor
// CHECK-NOT:     arith.fptosi
// CHECK:         arith.cmpf olt
// CHECK:         arith.cmpf ogt
// CHECK-COUNT-9:  math.fma
// CHECK:         arith.bitcast %{{.*}} : vector<8xf32> to vector<8xi32>
// CHECK:         arith.shrui
// CHECK:         arith.shli
// CHECK:         arith.shli
// CHECK-NOT:     arith.cmpf uno
// CHECK:         math.fma %{{.*}} : f32
// CHECK:         arith.bitcast %{{.*}} : f32 to i32
// CHECK-NOT:     math.exp

func.func @g(%a: vector<8xf32>) -> vector<8xf32> {
  %sq = arith.mulf %a, %a : vector<8xf32>
  %neg = arith.negf %sq : vector<8xf32>
  %0 = math.exp %neg : vector<8xf32>
  return %0 : vector<8xf32>
}

// CHECK-LABEL: func.func @g(
// CHECK:         arith.cmpf ogt
// CHECK-NOT:     arith.cmpf
// CHECK-COUNT-9:  math.fma
// CHECK-NOT:     arith.shrui
// CHECK:         arith.shli
// CHECK-NOT:     arith.shli
// CHECK:         arith.mulf
// CHECK-NOT:     math.exp

// keir-expand: math.exp on a vector becomes range reduction + polynomial on FMAs + exponent
// bit scaling, with no call left; a scalar exp gets the same code (same value in every lane).
// RUN: keir opt %s --pipeline keir-expand

func.func @f(%v: vector<8xf32>, %s: f32) -> (vector<8xf32>, f32) {
  %0 = math.exp %v : vector<8xf32>
  %1 = math.exp %s : f32
  return %0, %1 : vector<8xf32>, f32
}

// CHECK-LABEL: func.func @f(
// CHECK-NOT:     math.exp %{{.*}} : vector<8xf32>
// CHECK:         math.floor %{{.*}} : vector<8xf32>
// CHECK-COUNT-7: math.fma
// CHECK:         arith.fptosi %{{.*}} : vector<8xf32> to vector<8xi32>
// CHECK:         arith.shli
// CHECK:         arith.bitcast %{{.*}} : vector<8xi32> to vector<8xf32>
// CHECK:         arith.cmpf uno
// CHECK:         math.floor %{{.*}} : f32
// CHECK:         arith.fptosi %{{.*}} : f32 to i32
// CHECK-NOT:     math.exp
